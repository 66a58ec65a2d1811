// Policy: the rules in force (the base policy and the tenant's, with its override), the limits,
// and an "explain" box that runs the same decision as `agentmesh policy check`.

import { adminPath, api } from "../../api.js";
import { field, h, replace, toast } from "../../dom.js";
import { formatNumber, t } from "../../i18n.js";
import { badge, busy, errorBox, jsonEditor, notice, page, section } from "./common.js";

function globList(rules, key, kind) {
  const items = rules?.[key] || [];
  return h("div", { class: "glob-row" }, h("span", { class: "glob-label" }, t(`policy.${key}`)), items.length ? items.map((glob) => h("code", { class: ["tag", kind] }, glob)) : h("span", { class: "muted" }, "–"));
}

function documentView(document, heading) {
  if (!document) return null;
  return h(
    "div",
    { class: "policy-document", "data-policy": document.tenant },
    h("h3", null, heading),
    h("h4", null, t("policy.agents")),
    globList(document.agents, "allow", "ok"),
    globList(document.agents, "deny", "error"),
    h("h4", null, t("policy.tools")),
    globList(document.tools, "allow", "ok"),
    globList(document.tools, "approve", "warn"),
    globList(document.tools, "deny", "error"),
    h("h4", null, t("policy.models")),
    globList(document.models, "allow", "ok"),
    globList(document.models, "deny", "error"),
    Object.keys(document.arguments || {}).length
      ? h("div", null, h("h4", null, t("policy.arguments")), h("pre", { class: "code" }, JSON.stringify(document.arguments, null, 2)))
      : null,
    document.data?.redact?.length ? h("p", null, h("strong", null, t("policy.redact")), " ", document.data.redact.map((c) => h("code", { class: "tag" }, c))) : null,
  );
}

function limitsView(limits) {
  const rows = Object.entries(limits || {}).filter(([, value]) => value !== null && value !== undefined);
  if (!rows.length) return h("p", { class: "muted" }, t("policy.defaultLimits"));
  return h(
    "table",
    { class: "records", id: "limits-table" },
    h("tbody", null, rows.map(([key, value]) => h("tr", { "data-limit": key }, h("th", { scope: "row" }, key), h("td", { class: "num" }, formatNumber(value))))),
  );
}

export async function policyPage(root, { tenant, platform }) {
  const rulesArea = h("div", { id: "policy-rules" });
  const overrideArea = h("div", { id: "policy-override" });

  async function load() {
    try {
      const view = await api("GET", adminPath(tenant, "/policy"));
      replace(
        rulesArea,
        h(
          "div",
          { class: "two-columns" },
          h("div", null, documentView(view.effective, t("policy.tenantDocument", { tenant })) || notice(t("policy.baseOnly"))),
          h("div", null, documentView(view.base, t("policy.baseDocument")), h("h3", null, t("policy.limits")), limitsView(view.limits)),
        ),
      );
      drawOverride(view);
    } catch (error) {
      replace(rulesArea, errorBox(error));
    }
  }

  function drawOverride(view) {
    if (!platform) {
      replace(overrideArea, view.override ? h("pre", { class: "code" }, JSON.stringify(view.override, null, 2)) : h("p", { class: "muted" }, t("policy.noOverride")), h("p", { class: "muted small" }, t("policy.platformOnly")));
      return;
    }
    const initial = view.override ? Object.fromEntries(Object.entries(view.override).filter(([, v]) => v !== null)) : { tenant };
    const editor = jsonEditor("override-editor", initial, 12);
    const save = h("button", { type: "submit", class: "primary", id: "override-save" }, t("common.save"));
    const remove = h("button", { type: "button", class: "danger", id: "override-remove", disabled: !view.override }, t("policy.removeOverride"));
    const status = h("div", { "aria-live": "polite" });
    const form = h("form", { class: "stack" }, field(t("policy.overrideJson"), editor, t("policy.overrideHint")), h("div", { class: "actions" }, save, remove), status);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(save, async () => {
        try {
          await api("PUT", adminPath(tenant, "/policy"), editor.read());
          toast(t("policy.saved"));
          await load();
        } catch (error) {
          replace(status, errorBox(error));
        }
      });
    });
    remove.addEventListener("click", () =>
      busy(remove, async () => {
        try {
          await api("DELETE", adminPath(tenant, "/policy"));
          toast(t("policy.removed"));
          await load();
        } catch (error) {
          replace(status, errorBox(error));
        }
      }),
    );
    replace(overrideArea, form);
  }

  // -- explain -----------------------------------------------------------------------------
  const tool = h("input", { id: "explain-tool", placeholder: "erp:create_order", spellcheck: "false" });
  const args = jsonEditor("explain-arguments", undefined, 4);
  args.placeholder = '{"mst": "3428557611", "items": [{"sku": "ACM-0001", "quantity": 2}]}';
  const agent = h("input", { id: "explain-agent", placeholder: "debt" });
  const model = h("input", { id: "explain-model", placeholder: "openai:gpt-4o-mini" });
  const host = h("input", { id: "explain-host", placeholder: "wiki.acme.internal" });
  const privateHost = h("input", { id: "explain-private", type: "checkbox" });
  const role = h("select", { id: "explain-role" }, ["user", "tenant_admin"].map((r) => h("option", { value: r }, t(`role.${r}`))));
  const explain = h("button", { type: "submit", class: "primary", id: "explain-run" }, t("policy.explain"));
  const explained = h("div", { id: "explain-result", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "stack", id: "explain-form" },
    h("div", { class: "two-columns" }, field(t("policy.tool"), tool, "server:tool"), field(t("policy.role"), role)),
    field(t("policy.callArguments"), args, t("policy.argumentsHint")),
    h("div", { class: "three-columns" }, field(t("policy.agent"), agent), field(t("policy.model"), model), field(t("policy.host"), host)),
    h("label", { class: "inline" }, privateHost, " ", t("policy.private")),
    h("div", { class: "actions" }, explain),
    explained,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(explain, async () => {
      try {
        const question = { roles: [role.value] };
        if (tool.value.trim()) question.tool = tool.value.trim();
        const parsed = args.read();
        if (parsed !== undefined) question.arguments = parsed;
        if (agent.value.trim()) question.agent = agent.value.trim();
        if (model.value.trim()) question.model = model.value.trim();
        if (host.value.trim()) {
          question.host = host.value.trim();
          question.private = privateHost.checked;
        }
        const answer = await api("POST", adminPath(tenant, "/policy/check"), question);
        replace(
          explained,
          h(
            "div",
            { class: "decisions", "data-effect": answer.effect },
            h("p", null, t("policy.overall"), " ", badge(t(`effect.${answer.effect}`), answer.effect === "allow" ? "ok" : answer.effect === "deny" ? "error" : "warn")),
            h(
              "table",
              { class: "records" },
              h("thead", null, h("tr", null, [t("policy.check"), t("policy.effect"), t("policy.rule"), t("policy.reason")].map((c) => h("th", { scope: "col" }, c)))),
              h(
                "tbody",
                null,
                answer.decisions.map((decision) =>
                  h(
                    "tr",
                    { "data-check": decision.check, "data-effect": decision.effect },
                    h("td", null, decision.check),
                    h("td", null, badge(t(`effect.${decision.effect}`), decision.effect === "allow" ? "ok" : decision.effect === "deny" ? "error" : "warn")),
                    h("td", null, h("code", { class: "rule" }, decision.rule)),
                    h("td", null, decision.reason),
                  ),
                ),
              ),
            ),
          ),
        );
      } catch (error) {
        replace(explained, errorBox(error));
      }
    });
  });

  replace(
    root,
    page(
      "policy",
      t("admin.page.policy"),
      t("policy.intro"),
      section(t("policy.explainTitle"), h("p", { class: "muted" }, t("policy.explainHint")), form),
      section(t("policy.inForce"), rulesArea),
      section(t("policy.override"), overrideArea),
    ),
  );
  await load();
  return null;
}
