// The approvals inbox: tool calls waiting for a person; approving or rejecting resumes the turn
// (the user's chat completes live) and shows how it ended.

import { adminPath, api } from "../../api.js";
import { h, replace, toast } from "../../dom.js";
import { agentTitle, formatDate, language, t, tOr } from "../../i18n.js";
import { jsonView } from "../../jsonview.js";
import { markdown } from "../../markdown.js";
import { busy, errorBox, notice, page } from "./common.js";

const REFRESH_MS = 5000;

// Why a call waits, in the reader's language: the rule asking it (`owner:tools.approve[pattern]`),
// else the policy's own sentence (an approval stored before rules were kept).
const APPROVE_RULE = /^([^:]+):tools\.approve\[(.+)\]$/;

function whyAsked(call) {
  const rule = APPROVE_RULE.exec(call.rule || "");
  if (!rule) return call.reason ? h("p", { class: "muted" }, call.reason) : null;
  const [, owner, pattern] = rule;
  const policy = owner === "base" ? t("approvals.basePolicy") : t("approvals.tenantPolicy", { tenant: owner });
  return h("p", { class: "muted", "data-rule": call.rule }, t("approvals.why", { pattern, policy }));
}

export async function approvalsPage(root, { tenant }) {
  const list = h("div", { class: "approval-list", id: "approval-list", "aria-live": "polite" });
  const outcome = h("div", { id: "approval-outcome" });
  let timer = null;
  let stopped = false;

  async function decide(approval, approve, button) {
    await busy(button, async () => {
      try {
        const resumed = await api("POST", adminPath(tenant, `/approvals/${approval.id}/${approve ? "approve" : "reject"}`));
        toast(approve ? t("approvals.approved") : t("approvals.rejected"));
        replace(
          outcome,
          h(
            "div",
            { class: "card resumed-outcome", "data-outcome": resumed.outcome },
            h("h2", null, t("approvals.resumed", { outcome: tOr(`outcome.${resumed.outcome}`, resumed.outcome) })),
            h("div", { class: "answer-text" }, markdown(resumed.answer)),
          ),
        );
      } catch (error) {
        replace(outcome, errorBox(error));
      }
      await load();
    });
  }

  // Agents by the title the reader's language gives them (their names when the list cannot be read).
  let titles = new Map();
  try {
    const agents = (await api("GET", adminPath(tenant, "/agents"))).items;
    titles = new Map(agents.map((agent) => [agent.name, agentTitle(agent)]));
  } catch {
    titles = new Map();
  }

  // What the call does in the reader's words (its tool's title there), then its name.
  function callTitle(call) {
    const name = `${call.server}:${call.tool}`;
    const title = call.titles?.[language()];
    return h(
      "div",
      { class: "call-title" },
      title ? h("strong", { class: "tool-title" }, title.charAt(0).toUpperCase() + title.slice(1)) : null,
      h("code", null, name),
    );
  }

  async function load() {
    let items;
    try {
      items = (await api("GET", adminPath(tenant, "/approvals"))).items;
    } catch (error) {
      replace(list, errorBox(error));
      return;
    }
    if (!items.length) {
      replace(list, notice(t("approvals.empty")));
      return;
    }
    replace(
      list,
      items.map((approval) => {
        const approveButton = h("button", { type: "button", class: "primary", "data-approve": approval.id }, t("approvals.approve"));
        const rejectButton = h("button", { type: "button", class: "danger", "data-reject": approval.id }, t("approvals.reject"));
        approveButton.addEventListener("click", () => decide(approval, true, approveButton));
        rejectButton.addEventListener("click", () => decide(approval, false, rejectButton));
        return h(
          "article",
          { class: "card approval", "data-approval": approval.id },
          h(
            "header",
            null,
            h("strong", null, t("approvals.who", { user: approval.subject, agent: titles.get(approval.agent) || approval.agent })),
            h("span", { class: "muted" }, ` · ${formatDate(approval.created_at)}`),
          ),
          approval.calls.map((call) =>
            h("div", { class: "pending-call" }, callTitle(call), whyAsked(call), jsonView(call.arguments, { label: t("approvals.arguments"), openDepth: 8 })),
          ),
          h("div", { class: "actions" }, approveButton, rejectButton),
        );
      }),
    );
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(async () => {
      if (!document.querySelector("button[aria-busy]")) await load();
      schedule();
    }, REFRESH_MS);
  }

  replace(
    root,
    page(
      "approvals",
      t("admin.page.approvals"),
      t("approvals.intro"),
      h("div", { class: "actions" }, h("button", { type: "button", id: "approvals-refresh", onClick: () => load() }, t("common.refresh"))),
      outcome,
      list,
    ),
  );
  await load();
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
