// Administration: one page per resource, offered as the signed-in role allows (a platform admin
// picks the tenant; a tenant admin administers their own).

import { api, servedOperations } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { isAdmin, isPlatformAdmin } from "../roles.js";
import { agentsPage } from "./admin/agents.js";
import { approvalsPage } from "./admin/approvals.js";
import { auditPage } from "./admin/audit.js";
import { knowledgePage } from "./admin/knowledge.js";
import { llmPage } from "./admin/llm.js";
import { pinsPage } from "./admin/pins.js";
import { policyPage } from "./admin/policy.js";
import { serversPage } from "./admin/servers.js";
import { tenantsPage } from "./admin/tenants.js";
import { toolsPage } from "./admin/tools.js";
import { usagePage } from "./admin/usage.js";

const PAGES = [
  { id: "approvals", render: approvalsPage },
  { id: "agents", render: agentsPage },
  { id: "tools", render: toolsPage },
  { id: "knowledge", render: knowledgePage },
  { id: "policy", render: policyPage },
  { id: "llm", render: llmPage },
  { id: "usage", render: usagePage },
  { id: "audit", render: auditPage },
  { id: "pins", render: pinsPage },
  { id: "tenants", render: tenantsPage, platform: true },
  { id: "servers", render: serversPage, platform: true },
];

export async function adminView(root, [pageId], context) {
  const { me, params, navigate } = context;
  if (!isAdmin(me.identity)) {
    replace(root, h("section", { class: "page" }, h("h1", null, t("admin.title")), h("p", { class: "error", role: "alert" }, t("admin.notAdmin"))));
    return null;
  }
  const platform = isPlatformAdmin(me.identity);
  const pages = PAGES.filter((page) => platform || !page.platform);
  const page = pages.find((candidate) => candidate.id === (pageId || "approvals"));
  let tenant = me.identity.tenant_id;
  let tenants = [];
  if (platform) {
    try {
      tenants = (await api("GET", "/api/admin/tenants")).items;
    } catch {
      tenants = [];
    }
    const wanted = params.get("tenant");
    tenant = tenants.some((item) => item.id === wanted) ? wanted : tenants[0]?.id || tenant;
  }
  const query = platform ? `?tenant=${encodeURIComponent(tenant)}` : "";
  const nav = h(
    "nav",
    { class: "admin-nav", "aria-label": t("admin.sections") },
    h(
      "ul",
      null,
      pages.map((item) =>
        h(
          "li",
          null,
          h(
            "a",
            { href: `/admin/${item.id}${query}`, "data-nav": "", "aria-current": item === page ? "page" : null, "data-page": item.id },
            t(`admin.page.${item.id}`),
          ),
        ),
      ),
    ),
  );
  const picker = platform
    ? h(
        "label",
        { class: "tenant-picker" },
        t("admin.tenant"),
        " ",
        h(
          "select",
          {
            id: "tenant-picker",
            onChange: (event) => navigate(`/admin/${page ? page.id : "approvals"}?tenant=${encodeURIComponent(event.target.value)}`),
          },
          tenants.map((item) => h("option", { value: item.id, selected: item.id === tenant }, `${item.name} (${item.id})`)),
        ),
      )
    : h("p", { class: "tenant-picker muted" }, t("admin.tenantFixed", { tenant }));
  const content = h("div", { class: "admin-content", id: "admin-content" });
  replace(root, h("div", { class: "admin-layout" }, h("aside", { class: "admin-side" }, picker, nav), content));
  if (!page) {
    replace(content, h("section", { class: "page" }, h("h1", null, t("shell.notFound"))));
    return null;
  }
  const operations = await servedOperations();
  return (
    (await page.render(content, {
      tenant,
      me,
      platform,
      navigate,
      operations,
      serves: (method, path) => operations.has(`${method} ${path}`),
      tenantQuery: query,
    })) || null
  );
}
