// The audit log: every policy decision, tool call and admin change of the tenant, newest first,
// filtered and paged.

import { adminPath, api } from "../../api.js";
import { field, h, replace } from "../../dom.js";
import { formatDate, t, tOr } from "../../i18n.js";
import { jsonView } from "../../jsonview.js";
import { badge, busy, errorBox, page, section } from "./common.js";

const PAGE_SIZE = 50;
const EFFECTS = ["", "allow", "deny", "approve", "approved", "rejected", "ok", "error", "withheld"];

function effectKind(effect) {
  if (effect === "allow" || effect === "ok") return "ok";
  if (effect === "deny" || effect === "error") return "error";
  return "warn";
}

export async function auditPage(root, { tenant }) {
  const action = h("input", { id: "audit-action", placeholder: "policy.", spellcheck: "false" });
  const resource = h("input", { id: "audit-resource", placeholder: "erp:", spellcheck: "false" });
  const principal = h("input", { id: "audit-principal", placeholder: "alice", spellcheck: "false" });
  const effect = h("select", { id: "audit-effect" }, EFFECTS.map((e) => h("option", { value: e }, e ? t(`audit.effect.${e}`) : t("audit.anyEffect"))));
  const apply = h("button", { type: "submit", class: "primary", id: "audit-apply" }, t("audit.apply"));
  const output = h("div", { id: "audit-output", "aria-live": "polite" });
  const pages = []; // before_id of each page shown so far (null: the newest)

  async function load(beforeId) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (beforeId) query.set("before_id", String(beforeId));
    for (const [name, input] of [["action", action], ["resource", resource], ["principal", principal], ["effect", effect]]) {
      if (input.value.trim()) query.set(name, input.value.trim());
    }
    let result;
    try {
      result = await api("GET", adminPath(tenant, `/audit?${query}`));
    } catch (error) {
      replace(output, errorBox(error));
      return;
    }
    const newer = h("button", { type: "button", id: "audit-newer", disabled: pages.length <= 1 }, t("audit.newer"));
    const older = h("button", { type: "button", id: "audit-older", disabled: !result.next_before_id }, t("audit.older"));
    newer.addEventListener("click", () => {
      pages.pop();
      load(pages.at(-1));
    });
    older.addEventListener("click", () => {
      pages.push(result.next_before_id);
      load(result.next_before_id);
    });
    replace(
      output,
      result.items.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "records", id: "audit-table" },
              h("thead", null, h("tr", null, [t("audit.when"), t("audit.principal"), t("audit.action"), t("audit.resource"), t("audit.effect"), t("audit.rule"), ""].map((c) => h("th", { scope: "col" }, c)))),
              h(
                "tbody",
                null,
                result.items.map((event) =>
                  h(
                    "tr",
                    { "data-event": event.id, "data-action": event.action },
                    h("td", null, formatDate(event.at)),
                    h("td", null, event.principal),
                    h("td", null, h("code", null, event.action)),
                    h("td", null, h("code", null, event.resource)),
                    h("td", { "data-effect": event.effect }, badge(tOr(`audit.effect.${event.effect}`, event.effect), effectKind(event.effect))),
                    h("td", null, h("code", { class: "rule" }, event.rule)),
                    h("td", null, Object.keys(event.detail || {}).length ? h("details", null, h("summary", null, t("audit.detail")), jsonView(event.detail)) : null),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, t("audit.none")),
      h("div", { class: "actions pager" }, newer, h("span", { class: "muted" }, t("audit.page", { n: pages.length })), older),
    );
  }

  const form = h(
    "form",
    { class: "inline-form", id: "audit-filters" },
    field(t("audit.action"), action, t("audit.prefixHint")),
    field(t("audit.resource"), resource, t("audit.prefixHint")),
    field(t("audit.principal"), principal),
    field(t("audit.effect"), effect),
    apply,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    pages.length = 0;
    pages.push(null);
    busy(apply, () => load(null));
  });

  replace(root, page("audit", t("admin.page.audit"), t("audit.intro"), section(t("audit.filters"), form), output));
  pages.push(null);
  await load(null);
  return null;
}
