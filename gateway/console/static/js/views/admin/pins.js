// Tool pins: a tool whose definition changed is withheld until an admin reads the difference and
// accepts it (served again) or rejects it (stays withheld).

import { adminPath, api } from "../../api.js";
import { diffView } from "../../diff.js";
import { h, replace, toast } from "../../dom.js";
import { formatDate, t } from "../../i18n.js";
import { badge, busy, errorBox, notice, page } from "./common.js";

export async function pinsPage(root, { tenant, platform }) {
  const list = h("div", { id: "pin-list", "aria-live": "polite" });
  const base = platform ? "/api/admin/pins" : adminPath(tenant, "/pins");

  async function decide(change, verb, button) {
    await busy(button, async () => {
      try {
        await api("POST", `${base}/${encodeURIComponent(change.server)}/${encodeURIComponent(change.tool)}/${verb}`);
        toast(verb === "accept" ? t("pins.accepted", { tool: `${change.server}:${change.tool}` }) : t("pins.rejected", { tool: `${change.server}:${change.tool}` }));
        await load();
      } catch (error) {
        toast(error.message, "error");
      }
    });
  }

  async function load() {
    let items;
    try {
      items = (await api("GET", base)).items;
    } catch (error) {
      replace(list, errorBox(error));
      return;
    }
    if (!items.length) {
      replace(list, notice(t("pins.none")));
      return;
    }
    replace(
      list,
      items.map((change) => {
        const accept = h("button", { type: "button", class: "primary", "data-accept": `${change.server}:${change.tool}` }, t("pins.accept"));
        const reject = h("button", { type: "button", class: "danger", "data-reject": `${change.server}:${change.tool}` }, t("pins.reject"));
        accept.addEventListener("click", () => decide(change, "accept", accept));
        reject.addEventListener("click", () => decide(change, "reject", reject));
        return h(
          "article",
          { class: "card pin", "data-pin": `${change.server}:${change.tool}` },
          h(
            "header",
            null,
            h("code", null, `${change.server}:${change.tool}`),
            " ",
            badge(change.owner_tenant ? t("agents.own") : t("agents.platform")),
            " ",
            badge(t("pins.withheld"), "warn"),
            h("span", { class: "muted" }, ` · ${formatDate(change.changed_at)}`),
          ),
          h("p", { class: "muted small" }, t("pins.diffHint")),
          diffView(change.accepted_definition, change.pending_definition, { label: t("pins.diff") }),
          h("div", { class: "actions" }, accept, reject),
        );
      }),
    );
  }

  replace(root, page("pins", t("admin.page.pins"), t("pins.intro"), list));
  await load();
  return null;
}
