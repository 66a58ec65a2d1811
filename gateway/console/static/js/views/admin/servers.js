// MCP servers (platform admins): each one's connection, circuit breaker and tools; register one by
// URL, or remove a registered one.

import { api } from "../../api.js";
import { confirmAction } from "../../dialog.js";
import { field, h, replace, toast } from "../../dom.js";
import { formatDate, formatNumber, t, tOr } from "../../i18n.js";
import { badge, busy, errorBox, page, section } from "./common.js";

const REFRESH_MS = 5000;

export async function serversPage(root) {
  const listArea = h("div", { id: "server-list", "aria-live": "polite" });
  const name = h("input", { id: "server-name", required: true, pattern: "[a-z][a-z0-9\\-]{0,31}", autocomplete: "off" });
  const url = h("input", { id: "server-url", type: "url", required: true, placeholder: "https://tools.internal/mcp", spellcheck: "false" });
  const register = h("button", { type: "submit", class: "primary", id: "server-register" }, t("servers.register"));
  const status = h("div", { "aria-live": "polite" });
  let timer = null;
  let stopped = false;

  async function remove(server) {
    if (!(await confirmAction(t("servers.confirmRemove", { name: server.name }), t("servers.remove")))) return;
    try {
      await api("DELETE", `/api/admin/servers/${encodeURIComponent(server.name)}`);
      toast(t("servers.removed", { name: server.name }));
      await load();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function load() {
    let servers;
    try {
      servers = (await api("GET", "/api/admin/servers")).items;
    } catch (error) {
      replace(listArea, errorBox(error));
      return;
    }
    replace(
      listArea,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "records", id: "servers-table" },
          h("thead", null, h("tr", null, [t("servers.name"), t("servers.url"), t("servers.health"), t("servers.circuit"), t("servers.tools"), t("servers.source"), ""].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            null,
            servers.map((server) =>
              h(
                "tr",
                { "data-server": server.name, "data-connected": String(server.connected) },
                h("td", null, h("strong", null, server.name)),
                h("td", null, h("code", null, server.url)),
                h("td", null, server.connected ? badge(t("servers.connected"), "ok") : badge(t("servers.unavailable"), "error"), server.last_error ? h("div", { class: "muted small" }, server.last_error) : null),
                h("td", null, badge(tOr(`servers.circuit.${server.circuit}`, server.circuit), server.circuit === "closed" ? "ok" : "warn")),
                h("td", { class: "num" }, formatNumber(server.tools)),
                h("td", null, tOr(`servers.source.${server.source}`, server.source), server.updated_at ? h("div", { class: "muted small" }, formatDate(server.updated_at)) : null),
                h("td", null, server.source === "admin" ? h("button", { type: "button", class: "small danger", onClick: () => remove(server) }, t("servers.remove")) : null),
              ),
            ),
          ),
        ),
      ),
    );
  }

  const form = h("form", { class: "inline-form", id: "server-form" }, field(t("servers.name"), name), field(t("servers.url"), url, t("servers.urlHint")), register, status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(register, async () => {
      try {
        await api("PUT", `/api/admin/servers/${encodeURIComponent(name.value.trim())}`, { url: url.value.trim() });
        toast(t("servers.registered", { name: name.value.trim() }));
        form.reset();
        replace(status);
        await load();
      } catch (error) {
        replace(status, errorBox(error));
      }
    });
  });

  function schedule() {
    if (stopped) return;
    timer = setTimeout(async () => {
      await load();
      schedule();
    }, REFRESH_MS);
  }

  replace(root, page("servers", t("admin.page.servers"), t("servers.intro"), section(t("servers.list"), listArea), section(t("servers.new"), form)));
  await load();
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
