// Agents: what each one does (description, examples, keywords), its tools, model and output
// format; whether the tenant's policy enables it; "try routing": which agent would answer a
// message, and why; and the questions the tenant's users see under each agent.

import { adminPath, api } from "../../api.js";
import { confirmAction } from "../../dialog.js";
import { field, h, replace, toast } from "../../dom.js";
import { agentTitle, formatNumber, language, t, tOr } from "../../i18n.js";
import { badge, busy, errorBox, lines, page, section } from "./common.js";

const OUTPUT_FORMATS = ["", "summary_text", "markdown_table", "chart_data", "structured_json"];
const NAME_PATTERN = /^[a-z][a-z0-9_-]{0,39}$/;
// The languages an agent's title and summary are written in (its `display`).
const DISPLAY_LANGUAGES = ["en", "vi"];
const LANGUAGE_KEY = { en: "En", vi: "Vi" };

async function enabledAgents(tenant, names) {
  const checks = await Promise.all(
    names.map((name) =>
      api("POST", adminPath(tenant, "/policy/check"), { agent: name })
        .then((answer) => [name, answer.decisions[0]])
        .catch(() => [name, null]),
    ),
  );
  return new Map(checks);
}

export async function agentsPage(root, { tenant, platform }) {
  const listArea = h("div", { id: "agent-list" });
  const formArea = h("div", { id: "agent-form" });
  const routingArea = h("div", { id: "routing-result", "aria-live": "polite" });

  // -- the form ----------------------------------------------------------------------------
  const name = h("input", { id: "agent-name", required: true, maxlength: 40, autocomplete: "off" });
  const description = h("textarea", { id: "agent-description", rows: 3, required: true, maxlength: 2000 });
  const display = Object.fromEntries(
    DISPLAY_LANGUAGES.map((lang) => [
      lang,
      {
        title: h("input", { id: `agent-title-${lang}`, maxlength: 80, autocomplete: "off" }),
        summary: h("input", { id: `agent-summary-${lang}`, maxlength: 300, autocomplete: "off" }),
      },
    ]),
  );
  const examples = h("textarea", { id: "agent-examples", rows: 4 });
  const keywords = h("textarea", { id: "agent-keywords", rows: 2 });
  const tools = h("textarea", { id: "agent-tools", rows: 3, spellcheck: "false" });
  const model = h("input", { id: "agent-model", value: "default", list: "agent-models" });
  const output = h("select", { id: "agent-output" }, OUTPUT_FORMATS.map((f) => h("option", { value: f }, f ? tOr(`format.${f}`, f) : t("agents.formatFromTool"))));
  const prompt = h("textarea", { id: "agent-prompt", rows: 3, maxlength: 20000 });
  const formStatus = h("div", { role: "status", "aria-live": "polite" });
  const save = h("button", { type: "submit", class: "primary", id: "agent-save" }, t("common.save"));

  function fill(agent) {
    name.value = agent?.name || "";
    name.readOnly = Boolean(agent);
    description.value = agent?.description || "";
    for (const lang of DISPLAY_LANGUAGES) {
      display[lang].title.value = agent?.display?.[lang]?.title || "";
      display[lang].summary.value = agent?.display?.[lang]?.summary || "";
    }
    examples.value = (agent?.examples || []).join("\n");
    keywords.value = (agent?.keywords || []).join("\n");
    tools.value = (agent?.tools || []).join("\n");
    model.value = agent?.model || "default";
    output.value = agent?.output_format || "";
    prompt.value = agent?.system_prompt || "";
    replace(formStatus);
  }

  const form = h(
    "form",
    { class: "stack", id: "agent-editor" },
    field(t("agents.name"), name, t("agents.nameHint")),
    field(t("agents.description"), description, t("agents.descriptionHint")),
    ...DISPLAY_LANGUAGES.map((lang) =>
      h(
        "div",
        { class: "two-columns" },
        field(t(`agents.title${LANGUAGE_KEY[lang]}`), display[lang].title, t("agents.displayHint")),
        field(t(`agents.summary${LANGUAGE_KEY[lang]}`), display[lang].summary),
      ),
    ),
    field(t("agents.examples"), examples, t("schema.onePerLine")),
    field(t("agents.keywords"), keywords, t("schema.onePerLine")),
    field(t("agents.tools"), tools, t("agents.toolsHint")),
    field(t("agents.model"), model, t("agents.modelHint")),
    h("datalist", { id: "agent-models" }, ["default", "local", "openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest", "gemini:gemini-2.0-flash"].map((m) => h("option", { value: m }))),
    field(t("agents.output"), output),
    field(t("agents.prompt"), prompt),
    h("div", { class: "actions" }, save, h("button", { type: "button", onClick: () => fill(null) }, t("agents.new"))),
    formStatus,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(save, async () => {
      if (!NAME_PATTERN.test(name.value)) {
        replace(formStatus, errorBox({ message: t("agents.nameHint") }));
        return;
      }
      const shown = {};
      for (const lang of DISPLAY_LANGUAGES) {
        const title = display[lang].title.value.trim();
        const summary = display[lang].summary.value.trim();
        if (summary && !title) {
          replace(formStatus, errorBox({ message: t("agents.summaryNeedsTitle") }));
          display[lang].title.focus();
          return;
        }
        if (title) shown[lang] = { title, summary: summary || null };
      }
      const agent = {
        name: name.value,
        description: description.value.trim(),
        display: shown,
        examples: lines(examples.value),
        keywords: lines(keywords.value),
        tools: lines(tools.value),
        model: model.value.trim() || "default",
        output_format: output.value || null,
        system_prompt: prompt.value,
      };
      try {
        await api("PUT", adminPath(tenant, `/agents/${agent.name}`), agent);
        toast(t("agents.saved", { name: agent.name }));
        replace(formStatus, h("p", { class: "ok" }, t("agents.saved", { name: agent.name })));
        await load();
      } catch (error) {
        replace(formStatus, errorBox(error));
      }
    });
  });

  // -- enabling in policy (platform admins) ------------------------------------------------
  async function enable(agentName, button) {
    await busy(button, async () => {
      try {
        const current = await api("GET", adminPath(tenant, "/policy"));
        const override = { ...(current.override || {}), tenant };
        for (const key of Object.keys(override)) if (override[key] === null) delete override[key];
        const agents = current.effective?.agents || { allow: [], deny: [] };
        override.agents = { allow: [...new Set([...agents.allow, agentName])], deny: agents.deny.filter((n) => n !== agentName) };
        await api("PUT", adminPath(tenant, "/policy"), override);
        toast(t("agents.enabled", { name: agentName }));
        await load();
      } catch (error) {
        toast(error.message, "error");
      }
    });
  }

  async function remove(agent) {
    if (!(await confirmAction(t("agents.confirmDelete", { name: agent.name }), t("common.delete")))) return;
    try {
      await api("DELETE", adminPath(tenant, `/agents/${agent.name}`));
      toast(t("agents.deleted", { name: agent.name }));
      await load();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  // -- the list ----------------------------------------------------------------------------
  // The agents as last loaded: named by their title in the reader's language where they have one.
  let known = [];
  function titleNamed(name) {
    const agent = known.find((candidate) => candidate.name === name);
    return agent ? agentTitle(agent) : name;
  }

  async function load() {
    let agents;
    try {
      agents = (await api("GET", adminPath(tenant, "/agents"))).items;
    } catch (error) {
      replace(listArea, errorBox(error));
      return [];
    }
    known = agents;
    const decisions = await enabledAgents(tenant, agents.map((a) => a.name));
    replace(
      listArea,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "records", id: "agents-table" },
          h("thead", null, h("tr", null, [t("agents.name"), t("agents.description"), t("agents.tools"), t("agents.model"), t("agents.policy"), ""].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            null,
            agents.map((agent) => {
              const decision = decisions.get(agent.name);
              const enabled = decision?.effect === "allow";
              const enableButton = platform && !enabled ? h("button", { type: "button", class: "small", "data-enable": agent.name }, t("agents.enable")) : null;
              enableButton?.addEventListener("click", () => enable(agent.name, enableButton));
              return h(
                "tr",
                { "data-agent": agent.name },
                h(
                  "td",
                  null,
                  h("strong", null, agentTitle(agent)),
                  agentTitle(agent) === agent.name ? null : h("div", null, h("code", { class: "muted small" }, agent.name)),
                  " ",
                  agent.tenant_id ? badge(t("agents.own")) : badge(t("agents.platform")),
                ),
                h("td", null, agent.display?.[language()]?.summary || agent.description),
                h("td", null, agent.tools.map((tool) => h("code", { class: "tag" }, tool))),
                h("td", null, h("code", null, agent.model), agent.output_format ? h("div", { class: "muted small" }, agent.output_format) : null),
                h(
                  "td",
                  null,
                  enabled ? badge(t("agents.isEnabled"), "ok") : badge(t("agents.notEnabled"), "warn"),
                  decision ? h("div", { class: "muted small" }, h("code", null, decision.rule)) : null,
                  enableButton,
                ),
                h(
                  "td",
                  { class: "row-actions" },
                  h("button", { type: "button", class: "small", "data-edit": agent.name, onClick: () => { fill(agent); name.readOnly = true; description.focus(); } }, agent.tenant_id ? t("common.edit") : t("agents.customise")),
                  agent.tenant_id ? h("button", { type: "button", class: "small danger", "data-delete": agent.name, onClick: () => remove(agent) }, t("common.delete")) : null,
                ),
              );
            }),
          ),
        ),
      ),
    );
    previous.replaceChildren(h("option", { value: "" }, "–"), ...agents.map((a) => h("option", { value: a.name }, a.name)));
    // The agent being edited stays chosen, and its unsaved questions stay, across a reload of the list.
    const chosen = suggestAgent.value;
    suggestAgent.replaceChildren(...agents.map((a) => h("option", { value: a.name }, agentTitle(a))));
    suggestSave.disabled = !agents.length;
    if (agents.some((a) => a.name === chosen)) suggestAgent.value = chosen;
    else await loadSuggestions();
    return agents;
  }

  // -- suggested questions (the tenant's own, under any agent it uses) --------------------
  const suggestAgent = h("select", { id: "suggest-agent" });
  const suggestQuestions = h("textarea", { id: "suggest-questions", rows: 5, spellcheck: "false" });
  const suggestStatus = h("div", { id: "suggest-status", role: "status", "aria-live": "polite" });
  const suggestSave = h("button", { type: "submit", class: "primary", id: "suggest-save" }, t("common.save"));
  const suggestForm = h(
    "form",
    { class: "stack", id: "suggest-editor" },
    field(t("suggestions.agent"), suggestAgent),
    field(t("suggestions.questions"), suggestQuestions, t("suggestions.hint")),
    h("div", { class: "actions" }, suggestSave),
    suggestStatus,
  );

  function showSuggestions(view) {
    suggestQuestions.value = view.questions.join("\n");
    replace(suggestStatus, h("p", { class: "muted" }, view.tenant_set ? t("suggestions.own") : t("suggestions.fromExamples")));
  }

  async function loadSuggestions() {
    if (!suggestAgent.value) return;
    try {
      showSuggestions(await api("GET", adminPath(tenant, `/agents/${suggestAgent.value}/suggestions`)));
    } catch (error) {
      replace(suggestStatus, errorBox(error));
    }
  }

  suggestAgent.addEventListener("change", loadSuggestions);
  suggestForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!suggestAgent.value) return;
    busy(suggestSave, async () => {
      try {
        const view = await api("PUT", adminPath(tenant, `/agents/${suggestAgent.value}/suggestions`), { questions: lines(suggestQuestions.value) });
        showSuggestions(view);
        toast(t("suggestions.saved", { agent: titleNamed(view.agent) }));
      } catch (error) {
        replace(suggestStatus, errorBox(error));
      }
    });
  });

  // -- try routing -------------------------------------------------------------------------
  const routingMessage = h("textarea", { id: "routing-message", rows: 2, maxlength: 8000 });
  const previous = h("select", { id: "routing-previous" });
  const tryButton = h("button", { type: "submit", class: "primary", id: "routing-try" }, t("agents.tryRouting"));
  const routingForm = h(
    "form",
    { class: "stack" },
    field(t("agents.routingMessage"), routingMessage),
    field(t("agents.previousAgent"), previous, t("agents.previousHint")),
    h("div", { class: "actions" }, tryButton),
  );
  routingForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!routingMessage.value.trim()) return;
    busy(tryButton, async () => {
      try {
        const body = { message: routingMessage.value.trim(), ...(previous.value ? { previous_agent: previous.value } : {}) };
        const decision = await api("POST", adminPath(tenant, "/routing/explain"), body);
        replace(
          routingArea,
          h(
            "div",
            { class: "routing-decision", "data-agent": decision.agent || "" },
            h(
              "p",
              null,
              decision.agent ? t("agents.wouldAnswer", { agent: titleNamed(decision.agent) }) : t("agents.nobody"),
              " ",
              badge(t("timeline.confidence", { value: `${formatNumber(decision.confidence * 100, { maximumFractionDigits: 1 })}%` })),
              " ",
              badge(tOr(`reason.${decision.reason}`, decision.reason)),
              decision.follow_up ? badge(t("agents.followUp"), "ok") : null,
            ),
            decision.answer ? h("blockquote", null, decision.answer) : null,
            h(
              "ul",
              { class: "candidates" },
              decision.candidates.map((candidate) =>
                h(
                  "li",
                  { "data-candidate": candidate.agent },
                  h("span", { class: "candidate-name" }, candidate.agent),
                  h("meter", { min: 0, max: 1, value: Math.max(0, Math.min(1, candidate.score)) }),
                  h("span", { class: "muted" }, formatNumber(candidate.score, { maximumFractionDigits: 3 })),
                  candidate.enabled ? null : badge(t("agents.notEnabled"), "warn"),
                ),
              ),
            ),
          ),
        );
      } catch (error) {
        replace(routingArea, errorBox(error));
      }
    });
  });

  replace(
    root,
    page(
      "agents",
      t("admin.page.agents"),
      t("agents.intro"),
      section(t("agents.list"), listArea),
      h("div", { class: "two-columns" }, section(t("agents.editor"), form, formArea), section(t("agents.tryRouting"), h("p", { class: "muted" }, t("agents.tryHint")), routingForm, routingArea)),
      section(t("suggestions.title"), h("p", { class: "muted" }, t("suggestions.intro")), suggestForm),
    ),
  );
  await load();
  return null;
}
