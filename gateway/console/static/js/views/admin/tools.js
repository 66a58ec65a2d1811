// ERP HTTP tools as configuration: URL, method, JSON Schema input (previewed as the form the
// "test call" uses), authentication, output format and renderer hints; a test call with sample
// arguments runs the tool as the tenant and shows what an agent would read.

import { adminPath, api } from "../../api.js";
import { confirmAction } from "../../dialog.js";
import { field, h, replace, toast } from "../../dom.js";
import { formatDate, formatMs, t, tOr } from "../../i18n.js";
import { renderReply } from "../../render.js";
import { schemaForm } from "../../schemaform.js";
import { badge, busy, errorBox, jsonEditor, lines, page, section } from "./common.js";

const FORMATS = ["structured_json", "summary_text", "markdown_table", "chart_data"];
const EXAMPLE_SCHEMA = {
  type: "object",
  required: ["mst"],
  properties: { mst: { type: "string", pattern: "^[0-9]{10}(-[0-9]{3})?$", description: "the customer's MST tax code" } },
  additionalProperties: false,
};

export async function toolsPage(root, { tenant }) {
  let stored = [];
  const listArea = h("div", { id: "tool-list" });
  const status = h("div", { role: "status", "aria-live": "polite", id: "tool-status" });

  // -- the editor --------------------------------------------------------------------------
  const name = h("input", { id: "tool-name", required: true, maxlength: 64, autocomplete: "off" });
  const title = h("input", { id: "tool-title", maxlength: 200 });
  const description = h("textarea", { id: "tool-description", rows: 2, required: true });
  const method = h("select", { id: "tool-method" }, h("option", { value: "GET" }, "GET"), h("option", { value: "POST" }, "POST"));
  const url = h("input", { id: "tool-url", required: true, placeholder: "/customers/{mst}", spellcheck: "false" });
  const schema = jsonEditor("tool-schema", EXAMPLE_SCHEMA, 9);
  const preview = h("div", { class: "schema-preview", "aria-live": "polite" });
  const authMode = h("select", { id: "tool-auth" }, ["none", "service", "user", "forward"].map((m) => h("option", { value: m }, tOr(`tools.auth.${m}`, m))));
  const credential = h("input", { id: "tool-credential", placeholder: "demo-erp", autocomplete: "off" });
  const header = h("input", { id: "tool-header", value: "X-API-Key" });
  const format = h("select", { id: "tool-format" }, FORMATS.map((f) => h("option", { value: f }, tOr(`format.${f}`, f))));
  const summary = h("input", { id: "tool-summary", placeholder: "{customer.name} owes {outstanding:,} {currency}" });
  const rows = h("input", { id: "tool-rows", placeholder: "open_invoices", spellcheck: "false" });
  const fields = h("input", { id: "tool-fields", placeholder: "name, outstanding", spellcheck: "false" });
  const sortable = h("input", { id: "tool-sortable", spellcheck: "false" });
  const destructive = h("input", { id: "tool-destructive", type: "checkbox" });
  const save = h("button", { type: "submit", class: "primary", id: "tool-save" }, t("common.save"));
  let editing = null;

  function drawPreview() {
    try {
      replace(preview, h("p", { class: "muted small" }, t("tools.previewHint")), schemaForm(schema.read() || {}).element);
    } catch (error) {
      replace(preview, h("p", { class: "error" }, error.message));
    }
  }
  schema.addEventListener("input", drawPreview);

  function fill(tool) {
    editing = tool;
    const config = tool?.config;
    name.value = config?.name || "";
    name.readOnly = Boolean(tool);
    title.value = config?.title || "";
    description.value = config?.description || "";
    method.value = config?.method || "GET";
    url.value = config?.url || "";
    schema.value = JSON.stringify(config?.input_schema || EXAMPLE_SCHEMA, null, 2);
    authMode.value = config?.auth?.mode || "none";
    credential.value = config?.auth?.credential || "";
    header.value = config?.auth?.header || "X-API-Key";
    format.value = config?.output?.format || "structured_json";
    summary.value = config?.output?.summary || "";
    rows.value = config?.output?.hints?.rows || "";
    fields.value = (config?.output?.hints?.fields || []).join(", ");
    sortable.value = (config?.output?.hints?.sortable || []).join(", ");
    destructive.checked = Boolean(config?.destructive);
    drawPreview();
  }

  function commaList(input) {
    return input.value.split(",").map((s) => s.trim()).filter(Boolean);
  }

  function config() {
    const auth = { mode: authMode.value };
    if (authMode.value === "service") {
      auth.credential = credential.value.trim();
      auth.header = header.value.trim() || "X-API-Key";
    }
    const hints = { fields: commaList(fields), sortable: commaList(sortable) };
    if (rows.value.trim()) hints.rows = rows.value.trim();
    return {
      name: name.value.trim(),
      ...(title.value.trim() ? { title: title.value.trim() } : {}),
      description: description.value.trim(),
      method: method.value,
      url: url.value.trim(),
      input_schema: schema.read(),
      auth,
      output: { format: format.value, ...(summary.value.trim() ? { summary: summary.value.trim() } : {}), hints },
      destructive: destructive.checked,
    };
  }

  const form = h(
    "form",
    { class: "stack", id: "tool-editor" },
    h("div", { class: "two-columns" }, field(t("tools.name"), name), field(t("tools.titleField"), title)),
    field(t("tools.description"), description, t("tools.descriptionHint")),
    h("div", { class: "two-columns" }, field(t("tools.method"), method), field(t("tools.url"), url, t("tools.urlHint"))),
    h("div", { class: "two-columns" }, field(t("tools.schema"), schema, t("tools.schemaHint")), preview),
    h("fieldset", null, h("legend", null, t("tools.auth")), h("div", { class: "three-columns" }, field(t("tools.authMode"), authMode), field(t("tools.credential"), credential), field(t("tools.header"), header))),
    h(
      "fieldset",
      null,
      h("legend", null, t("tools.output")),
      h("div", { class: "two-columns" }, field(t("tools.format"), format), field(t("tools.summary"), summary, t("tools.summaryHint"))),
      h("div", { class: "three-columns" }, field(t("tools.rows"), rows), field(t("tools.fields"), fields), field(t("tools.sortable"), sortable)),
    ),
    h("label", { class: "inline" }, destructive, " ", t("tools.destructive")),
    h("div", { class: "actions" }, save, h("button", { type: "button", onClick: () => fill(null) }, t("tools.new"))),
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(save, async () => {
      let body;
      try {
        body = config();
      } catch (error) {
        replace(status, errorBox(error));
        return;
      }
      try {
        const saved = editing
          ? await api("PUT", adminPath(tenant, `/erp/tools/${encodeURIComponent(body.name)}`), body)
          : await api("POST", adminPath(tenant, "/erp/tools"), body);
        replace(
          status,
          h("p", { class: saved.live ? "ok" : "warn", "data-live": String(saved.live) }, saved.live ? t("tools.live", { name: saved.name }) : t("tools.notLive", { name: saved.name })),
        );
        toast(t("tools.saved", { name: saved.name }));
        editing = saved;
        name.readOnly = true;
        await load(saved.name);
      } catch (error) {
        replace(status, errorBox(error));
      }
    });
  });

  // -- test call ---------------------------------------------------------------------------
  const testTool = h("select", { id: "test-tool" });
  const testForm = h("div", { id: "test-form" });
  const testRaw = h("textarea", { id: "test-raw", rows: 3, class: "code", placeholder: '{"mst": "3428557611"}' });
  const testButton = h("button", { type: "submit", class: "primary", id: "test-run" }, t("tools.runTest"));
  const testResult = h("div", { id: "test-result", "aria-live": "polite" });
  let argumentsForm = schemaForm({});

  function drawTestForm() {
    const tool = stored.find((item) => item.name === testTool.value);
    argumentsForm = schemaForm(tool?.config.input_schema || {});
    replace(testForm, argumentsForm.element);
  }
  testTool.addEventListener("change", drawTestForm);

  const test = h(
    "form",
    { class: "stack", id: "tool-test" },
    field(t("tools.testTool"), testTool),
    testForm,
    h("details", null, h("summary", null, t("tools.rawArguments")), field(t("tools.rawArguments"), testRaw, t("tools.rawHint"))),
    h("div", { class: "actions" }, testButton),
    testResult,
  );
  test.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(testButton, async () => {
      let args;
      try {
        args = testRaw.value.trim() ? JSON.parse(testRaw.value) : argumentsForm.value();
      } catch (error) {
        replace(testResult, errorBox(error));
        return;
      }
      try {
        const result = await api("POST", adminPath(tenant, `/erp/tools/${encodeURIComponent(testTool.value)}/test`), { arguments: args });
        replace(
          testResult,
          h(
            "div",
            { class: ["test-outcome", result.is_error ? "failed" : "passed"], "data-error": String(result.is_error) },
            h(
              "p",
              null,
              result.is_error ? badge(t("timeline.failed", { code: result.error_code || "error" }), "error") : badge(t("tools.passed"), "ok"),
              " ",
              badge(formatMs(result.duration_ms)),
            ),
            result.is_error
              ? h("pre", { class: "result-text" }, result.text)
              : renderReply({ answer: result.structured && /^\s*[[{]/.test(result.text) ? "" : result.text, data: result.structured, render: result.render }),
          ),
        );
      } catch (error) {
        replace(testResult, errorBox(error));
      }
    });
  });

  // -- the list ----------------------------------------------------------------------------
  async function remove(tool) {
    if (!(await confirmAction(t("tools.confirmDelete", { name: tool.name }), t("common.delete")))) return;
    try {
      await api("DELETE", adminPath(tenant, `/erp/tools/${encodeURIComponent(tool.name)}`));
      toast(t("tools.deleted", { name: tool.name }));
      fill(null);
      await load();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function load(select) {
    try {
      stored = (await api("GET", adminPath(tenant, "/erp/tools"))).items;
    } catch (error) {
      replace(listArea, errorBox(error));
      return;
    }
    replace(
      listArea,
      stored.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "records", id: "tools-table" },
              h("thead", null, h("tr", null, [t("tools.name"), t("tools.method"), t("tools.url"), t("tools.format"), t("common.updated"), ""].map((c) => h("th", { scope: "col" }, c)))),
              h(
                "tbody",
                null,
                stored.map((tool) =>
                  h(
                    "tr",
                    { "data-tool": tool.name },
                    h("td", null, h("strong", null, tool.name), tool.tenant_id ? null : badge(t("agents.platform")), h("div", { class: "muted small" }, tool.config.description)),
                    h("td", null, tool.config.method),
                    h("td", null, h("code", null, tool.config.url)),
                    h("td", null, tool.config.output.format),
                    h("td", null, formatDate(tool.updated_at)),
                    h(
                      "td",
                      { class: "row-actions" },
                      h("button", { type: "button", class: "small", "data-edit": tool.name, onClick: () => { fill(tool); description.focus(); } }, t("common.edit")),
                      h("button", { type: "button", class: "small danger", "data-delete": tool.name, onClick: () => remove(tool) }, t("common.delete")),
                    ),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, t("tools.none")),
    );
    replace(testTool, stored.map((tool) => h("option", { value: tool.name, selected: tool.name === select }, tool.name)));
    drawTestForm();
  }

  // -- service credentials -----------------------------------------------------------------
  const credentialList = h("ul", { id: "credential-list", class: "inline-list" });
  const credentialName = h("input", { id: "credential-name", placeholder: "demo-erp", autocomplete: "off" });
  const credentialSecret = h("input", { id: "credential-secret", type: "password", autocomplete: "new-password" });
  const credentialSave = h("button", { type: "submit" }, t("tools.setCredential"));
  const credentialForm = h(
    "form",
    { class: "stack" },
    h("div", { class: "two-columns" }, field(t("tools.credentialName"), credentialName), field(t("tools.credentialSecret"), credentialSecret, t("tools.writeOnly"))),
    h("div", { class: "actions" }, credentialSave),
  );
  async function loadCredentials() {
    try {
      const names = (await api("GET", adminPath(tenant, "/erp/credentials"))).names;
      replace(credentialList, names.length ? names.map((n) => h("li", null, h("code", null, n))) : h("li", { class: "muted" }, t("tools.noCredentials")));
    } catch (error) {
      replace(credentialList, h("li", null, errorBox(error)));
    }
  }
  credentialForm.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(credentialSave, async () => {
      try {
        await api("PUT", adminPath(tenant, `/erp/credentials/${encodeURIComponent(credentialName.value.trim())}`), { secret: credentialSecret.value });
        credentialSecret.value = "";
        toast(t("tools.credentialSaved"));
        await loadCredentials();
      } catch (error) {
        toast(error.message, "error");
      }
    });
  });

  replace(
    root,
    page(
      "tools",
      t("admin.page.tools"),
      t("tools.intro"),
      section(t("tools.list"), listArea),
      section(t("tools.editor"), form),
      section(t("tools.test"), h("p", { class: "muted" }, t("tools.testHint")), test),
      section(t("tools.credentials"), credentialList, credentialForm),
    ),
  );
  fill(null);
  await Promise.all([load(), loadCredentials()]);
  return null;
}
