// Tenants (platform admins): create, rename, export, delete. Export and delete are offered only
// when this gateway serves them (read from its OpenAPI document); otherwise the page says so.

import { accessToken } from "../../auth.js";
import { api } from "../../api.js";
import { confirmAction } from "../../dialog.js";
import { field, h, replace, toast } from "../../dom.js";
import { formatDate, t } from "../../i18n.js";
import { busy, errorBox, notice, page, section } from "./common.js";

const EXPORT = "GET /api/admin/tenants/{tenant_id}/export";
const DELETE = "DELETE /api/admin/tenants/{tenant_id}";

async function download(tenantId) {
  const response = await fetch(`/api/admin/tenants/${encodeURIComponent(tenantId)}/export`, {
    headers: { Authorization: `Bearer ${await accessToken()}` },
    credentials: "same-origin",
  });
  if (!response.ok) {
    const payload = await response.json().catch(() => null);
    throw new Error(payload?.error?.message || response.statusText);
  }
  const disposition = response.headers.get("content-disposition") || "";
  const named = disposition.match(/filename="?([^";]+)"?/);
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: named ? named[1] : `${tenantId}-export` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function tenantsPage(root, { operations, navigate }) {
  const canExport = operations.has(EXPORT);
  const canDelete = operations.has(DELETE);
  const listArea = h("div", { id: "tenant-list" });
  const id = h("input", { id: "tenant-id", required: true, pattern: "[a-z0-9][a-z0-9_\\-]{0,63}", maxlength: 64, autocomplete: "off" });
  const name = h("input", { id: "tenant-name", required: true, maxlength: 200 });
  const create = h("button", { type: "submit", class: "primary", id: "tenant-create" }, t("tenants.create"));
  const status = h("div", { "aria-live": "polite" });

  async function rename(tenant) {
    const input = h("input", { value: tenant.name, maxlength: 200, "aria-label": t("tenants.newName", { id: tenant.id }) });
    const saveButton = h("button", { type: "submit", class: "primary small" }, t("common.save"));
    const row = listArea.querySelector(`tr[data-tenant="${CSS.escape(tenant.id)}"] td.name`);
    const form = h("form", { class: "inline-form" }, input, saveButton);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(saveButton, async () => {
        try {
          await api("PATCH", `/api/admin/tenants/${encodeURIComponent(tenant.id)}`, { name: input.value.trim() });
          toast(t("tenants.renamed"));
          await load();
        } catch (error) {
          toast(error.message, "error");
        }
      });
    });
    replace(row, form);
    input.focus();
  }

  async function remove(tenant) {
    if (!(await confirmAction(t("tenants.confirmDelete", { id: tenant.id }), t("common.delete")))) return;
    try {
      await api("DELETE", `/api/admin/tenants/${encodeURIComponent(tenant.id)}`);
      toast(t("tenants.deleted", { id: tenant.id }));
      await load();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function load() {
    let tenants;
    try {
      tenants = (await api("GET", "/api/admin/tenants")).items;
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
          { class: "records", id: "tenants-table" },
          h("thead", null, h("tr", null, [t("tenants.id"), t("tenants.name"), t("tenants.createdAt"), ""].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            null,
            tenants.map((tenant) => {
              const exportButton = h("button", { type: "button", class: "small", "data-export": tenant.id, disabled: !canExport, title: canExport ? null : t("tenants.exportMissing") }, t("tenants.export"));
              exportButton.addEventListener("click", () =>
                busy(exportButton, async () => {
                  try {
                    await download(tenant.id);
                  } catch (error) {
                    toast(error.message, "error");
                  }
                }),
              );
              return h(
                "tr",
                { "data-tenant": tenant.id },
                h("td", null, h("code", null, tenant.id)),
                h("td", { class: "name" }, tenant.name),
                h("td", null, formatDate(tenant.created_at)),
                h(
                  "td",
                  { class: "row-actions" },
                  h("button", { type: "button", class: "small", onClick: () => navigate(`/admin/agents?tenant=${encodeURIComponent(tenant.id)}`) }, t("tenants.administer")),
                  h("button", { type: "button", class: "small", "data-rename": tenant.id, onClick: () => rename(tenant) }, t("tenants.rename")),
                  exportButton,
                  h("button", { type: "button", class: "small danger", "data-delete": tenant.id, disabled: !canDelete, title: canDelete ? null : t("tenants.deleteMissing"), onClick: () => remove(tenant) }, t("common.delete")),
                ),
              );
            }),
          ),
        ),
      ),
      !canExport || !canDelete ? notice(t("tenants.missing", { what: [!canExport ? t("tenants.export") : null, !canDelete ? t("common.delete") : null].filter(Boolean).join(", ") }), "warn") : null,
    );
  }

  const form = h("form", { class: "inline-form", id: "tenant-form" }, field(t("tenants.id"), id, t("tenants.idHint")), field(t("tenants.name"), name), create, status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(create, async () => {
      try {
        await api("POST", "/api/admin/tenants", { id: id.value.trim(), name: name.value.trim() });
        toast(t("tenants.created", { id: id.value.trim() }));
        form.reset();
        replace(status);
        await load();
      } catch (error) {
        replace(status, errorBox(error));
      }
    });
  });

  replace(root, page("tenants", t("admin.page.tenants"), t("tenants.intro"), section(t("tenants.list"), listArea), section(t("tenants.new"), form)));
  await load();
  return null;
}
