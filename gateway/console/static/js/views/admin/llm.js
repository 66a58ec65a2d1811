// The tenant's LLM: provider, model, base URL and API key. The key is write-only: the page never
// receives it, only whether one is stored and its last four characters.

import { adminPath, api } from "../../api.js";
import { confirmAction } from "../../dialog.js";
import { field, h, replace, toast } from "../../dom.js";
import { formatDate, t } from "../../i18n.js";
import { busy, errorBox, notice, page, section } from "./common.js";

export async function llmPage(root, { tenant }) {
  const current = h("div", { id: "llm-current", "aria-live": "polite" });
  const provider = h("select", { id: "llm-provider" }, ["openai", "anthropic", "gemini"].map((p) => h("option", { value: p }, p)));
  const model = h("input", { id: "llm-model", required: true, placeholder: "gpt-4o-mini", spellcheck: "false" });
  const baseUrl = h("input", { id: "llm-base-url", type: "url", placeholder: "https://api.openai.com/v1", spellcheck: "false" });
  const apiKey = h("input", { id: "llm-key", type: "password", required: true, autocomplete: "new-password", spellcheck: "false" });
  const save = h("button", { type: "submit", class: "primary", id: "llm-save" }, t("common.save"));
  const remove = h("button", { type: "button", class: "danger", id: "llm-remove" }, t("llm.remove"));
  const status = h("div", { "aria-live": "polite" });

  async function load() {
    let view;
    try {
      view = await api("GET", adminPath(tenant, "/llm"));
    } catch (error) {
      remove.disabled = true;
      replace(current, errorBox(error));
      return;
    }
    remove.disabled = !view.configured;
    if (!view.configured) {
      replace(current, notice(t("llm.none")));
      return;
    }
    provider.value = view.provider;
    model.value = view.model;
    baseUrl.value = view.base_url || "";
    replace(
      current,
      h(
        "dl",
        { class: "facts", "data-configured": "true" },
        h("dt", null, t("llm.provider")),
        h("dd", null, view.provider),
        h("dt", null, t("llm.model")),
        h("dd", null, view.model),
        h("dt", null, t("llm.key")),
        h("dd", { id: "llm-key-hint" }, view.has_api_key ? t("llm.keyStored", { hint: view.key_hint }) : "–"),
        h("dt", null, t("common.updated")),
        h("dd", null, formatDate(view.updated_at)),
      ),
    );
  }

  const form = h(
    "form",
    { class: "stack", id: "llm-form" },
    h("div", { class: "two-columns" }, field(t("llm.provider"), provider), field(t("llm.model"), model)),
    field(t("llm.baseUrl"), baseUrl, t("llm.baseUrlHint")),
    field(t("llm.key"), apiKey, t("llm.keyHint")),
    h("div", { class: "actions" }, save, remove),
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(save, async () => {
      try {
        const body = { provider: provider.value, model: model.value.trim(), api_key: apiKey.value };
        if (baseUrl.value.trim()) body.base_url = baseUrl.value.trim();
        await api("PUT", adminPath(tenant, "/llm"), body);
        apiKey.value = "";
        replace(status);
        toast(t("llm.saved"));
        await load();
      } catch (error) {
        replace(status, errorBox(error));
      }
    });
  });
  remove.addEventListener("click", async () => {
    if (!(await confirmAction(t("llm.confirmRemove"), t("llm.remove")))) return;
    await busy(remove, async () => {
      try {
        await api("DELETE", adminPath(tenant, "/llm"));
        toast(t("llm.removed"));
        await load();
      } catch (error) {
        replace(status, errorBox(error));
      }
    });
  });

  replace(root, page("llm", t("admin.page.llm"), t("llm.intro"), section(t("llm.current"), current), section(t("llm.set"), form)));
  await load();
  return null;
}
