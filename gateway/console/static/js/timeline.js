// Every step of a turn, as it happens: routing (agent, confidence, reason, candidates), each tool
// call with its arguments and the policy rule that allowed it, its result with duration or error
// code, approvals, and the outcome with usage.

import { h, replace } from "./dom.js";
import { formatMoney, formatMs, formatNumber, t, tOr } from "./i18n.js";
import { jsonView } from "./jsonview.js";

const LONG_ARGUMENT = 160;

function argumentText(value) {
  if (typeof value === "string") {
    if (value.length > LONG_ARGUMENT) {
      const kilobytes = formatNumber(value.length / 1024, { maximumFractionDigits: 1 });
      return t("timeline.longValue", { start: value.slice(0, 24), size: kilobytes });
    }
    return value;
  }
  return JSON.stringify(value);
}

function argumentList(args) {
  const entries = Object.entries(args || {});
  if (!entries.length) return h("p", { class: "muted" }, t("timeline.noArguments"));
  return h(
    "dl",
    { class: "arguments" },
    entries.map(([key, value]) => [h("dt", null, key), h("dd", null, h("code", null, argumentText(value)))]),
  );
}

function percent(value) {
  return `${formatNumber((value || 0) * 100, { maximumFractionDigits: 1 })}%`;
}

/** A turn's timeline; feed it events with `add(type, data)`. `title` names an agent for the reader. */
export class Timeline {
  constructor({ live = true, title = (agent) => agent } = {}) {
    this.title = title;
    this.list = h("ol", { class: "timeline", "aria-label": t("timeline.label") });
    this.calls = new Map();
    this.element = h(
      "details",
      { class: "steps", open: live },
      h("summary", null, t("timeline.title")),
      this.list,
    );
  }

  item(kind, ...children) {
    const node = h("li", { class: ["step", `step-${kind}`], "data-step": kind }, children);
    this.list.append(node);
    return node;
  }

  add(type, data) {
    if (type === "route") this.route(data);
    else if (type === "tool_call") this.toolCall(data);
    else if (type === "tool_result") this.toolResult(data);
    else if (type === "final") this.final(data);
    else if (type === "error") this.item("error", h("strong", null, t("timeline.error")), " ", data.message || data.code || "");
  }

  route(event) {
    const candidates = (event.candidates || []).slice(0, 5);
    this.item(
      "route",
      h(
        "div",
        { class: "step-head" },
        h("span", { class: "step-kind" }, t("timeline.route")),
        event.agent
          ? h("strong", { "data-agent": event.agent }, this.title(event.agent))
          : h("strong", { class: "muted" }, t("timeline.noAgent")),
        h("span", { class: "badge" }, t("timeline.confidence", { value: percent(event.confidence) })),
        h("span", { class: "badge subtle" }, tOr(`reason.${event.reason}`, event.reason)),
        event.duration_ms ? h("span", { class: "muted" }, formatMs(event.duration_ms)) : null,
      ),
      candidates.length
        ? h(
            "ul",
            { class: "candidates", "aria-label": t("timeline.candidates") },
            candidates.map((candidate) =>
              h(
                "li",
                null,
                h("span", { class: "candidate-name", "data-agent": candidate.agent }, this.title(candidate.agent)),
                h("meter", { min: 0, max: 1, value: Math.max(0, Math.min(1, candidate.score || 0)) }),
                h("span", { class: "muted" }, percent(candidate.score)),
              ),
            ),
          )
        : null,
    );
  }

  toolCall(event) {
    const status = h("span", { class: "badge running" }, t("timeline.running"));
    const result = h("div", { class: "tool-result" });
    const node = this.item(
      "tool",
      h(
        "div",
        { class: "step-head" },
        h("span", { class: "step-kind" }, t("timeline.toolCall")),
        h("code", { class: "tool-name" }, `${event.server}:${event.tool}`),
        status,
      ),
      argumentList(event.arguments),
      event.decision_rule || event.detail?.policy_rule
        ? h(
            "p",
            { class: "policy" },
            h("span", { class: "step-kind" }, t("timeline.policy")),
            " ",
            h("code", { "data-rule": event.decision_rule || event.detail?.policy_rule }, event.decision_rule || event.detail?.policy_rule),
          )
        : null,
      result,
    );
    this.calls.set(event.call_id || `${event.server}:${event.tool}:${this.calls.size}`, { node, status, result });
  }

  toolResult(event) {
    const call = this.calls.get(event.call_id) || [...this.calls.values()].find((c) => c.status.classList.contains("running"));
    if (!call) return;
    call.status.className = `badge ${event.is_error ? "error" : "ok"}`;
    call.status.textContent = event.is_error
      ? t("timeline.failed", { code: event.error_code || "error" })
      : t("timeline.done", { duration: formatMs(event.duration_ms) });
    call.node.dataset.duration = String(event.duration_ms ?? "");
    replace(
      call.result,
      h(
        "details",
        null,
        h("summary", null, t("timeline.result"), event.truncated ? ` (${t("timeline.truncated")})` : ""),
        event.text ? h("pre", { class: "result-text" }, String(event.text)) : null,
        event.structured ? jsonView(event.structured, { label: t("timeline.result") }) : null,
      ),
    );
  }

  final(reply) {
    const usage = reply.usage || {};
    this.item(
      "final",
      h(
        "div",
        { class: "step-head" },
        h("span", { class: "step-kind" }, t("timeline.outcome")),
        h("strong", { "data-outcome": reply.outcome }, tOr(`outcome.${reply.outcome}`, reply.outcome)),
        usage.total_tokens ? h("span", { class: "badge subtle" }, t("timeline.tokens", { n: formatNumber(usage.total_tokens) })) : null,
        usage.cost_usd ? h("span", { class: "badge subtle" }, formatMoney(usage.cost_usd)) : null,
      ),
    );
    for (const call of this.calls.values()) {
      if (call.status.classList.contains("running")) {
        call.status.className = "badge subtle";
        call.status.textContent = t("timeline.notRun");
      }
    }
  }

  /** Steps of an answer read back from the transcript (calls and outcome; no live results). */
  static fromStored(message, { title = (agent) => agent } = {}) {
    const timeline = new Timeline({ live: false, title });
    const meta = message.meta || {};
    if (message.agent) timeline.item("route", h("div", { class: "step-head" }, h("span", { class: "step-kind" }, t("timeline.agent")), h("strong", { "data-agent": message.agent }, title(message.agent))));
    for (const call of meta.tool_calls || []) {
      timeline.item(
        "tool",
        h("div", { class: "step-head" }, h("span", { class: "step-kind" }, t("timeline.toolCall")), h("code", { class: "tool-name" }, `${call.server}:${call.tool}`)),
        argumentList(call.arguments),
      );
    }
    if (meta.outcome) timeline.final({ outcome: meta.outcome, usage: meta.usage });
    if (meta.decided_by) timeline.item("approval", t("timeline.decidedBy", { who: meta.decided_by }));
    return timeline;
  }
}

export { jsonView };
