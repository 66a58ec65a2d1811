// The API reference, drawn from the gateway's own `/openapi.json`: every operation it serves,
// grouped by tag, with parameters, request and response schemas.

import { servedOperations } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { jsonView } from "../jsonview.js";

function schemaName(schema) {
  const ref = schema?.$ref;
  return ref ? ref.split("/").at(-1) : schema?.type || "–";
}

function operationCard(method, path, operation, schemas) {
  const parameters = operation.parameters || [];
  const body = operation.requestBody?.content?.["application/json"]?.schema;
  const responses = Object.entries(operation.responses || {});
  return h(
    "details",
    { class: "operation", "data-operation": operation.operationId },
    h(
      "summary",
      null,
      h("span", { class: ["method", method] }, method.toUpperCase()),
      h("code", null, path),
      h("span", { class: "muted" }, operation.summary || ""),
    ),
    operation.description ? h("p", null, operation.description) : null,
    h("p", { class: "muted small" }, operation.security?.length ? t("docs.authenticated") : t("docs.public")),
    parameters.length
      ? h(
          "table",
          { class: "records" },
          h("thead", null, h("tr", null, h("th", { scope: "col" }, t("docs.parameter")), h("th", { scope: "col" }, t("docs.in")), h("th", { scope: "col" }, t("docs.schema")))),
          h(
            "tbody",
            null,
            parameters.map((p) => h("tr", null, h("td", null, h("code", null, p.name), p.required ? " *" : ""), h("td", null, p.in), h("td", null, h("code", null, JSON.stringify(p.schema))))),
          ),
        )
      : null,
    body
      ? h("div", null, h("h4", null, t("docs.body"), " ", h("code", null, schemaName(body))), body.$ref ? jsonView(schemas[schemaName(body)] || {}, { label: schemaName(body) }) : null)
      : null,
    h(
      "ul",
      { class: "responses" },
      responses.map(([status, response]) =>
        h("li", null, h("code", null, status), " ", response.description || "", " ", Object.keys(response.content || {}).map((type) => h("span", { class: "badge subtle" }, type))),
      ),
    ),
  );
}

export async function docsView(root) {
  replace(root, h("section", { class: "page" }, h("p", { class: "muted" }, t("common.loading"))));
  const operations = await servedOperations();
  const document = operations.document;
  const schemas = document.components?.schemas || {};
  const byTag = new Map();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const tag = operation.tags?.[0] || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([method, path, operation]);
    }
  }
  const filter = h("input", { type: "search", id: "docs-filter", placeholder: t("docs.filter") });
  const list = h("div", { class: "operations" });
  function draw() {
    const needle = filter.value.trim().toLowerCase();
    replace(
      list,
      [...byTag.entries()].map(([tag, entries]) => {
        const shown = entries.filter(([method, path, op]) => !needle || `${method} ${path} ${op.summary}`.toLowerCase().includes(needle));
        if (!shown.length) return null;
        return h("section", { class: "tag" }, h("h2", null, tag), shown.map(([method, path, op]) => operationCard(method, path, op, schemas)));
      }),
    );
  }
  filter.addEventListener("input", draw);
  replace(
    root,
    h(
      "section",
      { class: "page docs" },
      h("h1", null, t("docs.title")),
      h("p", null, t("docs.intro"), " ", h("a", { href: "/openapi.json" }, "/openapi.json")),
      h("label", { for: "docs-filter", class: "visually-hidden" }, t("docs.filter")),
      filter,
      list,
    ),
  );
  draw();
  return null;
}
