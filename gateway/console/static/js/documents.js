// Opening a knowledge document (what a citation points to) in a dialog, rendered as safe
// Markdown: whatever the document contains (`<script>`, `<img onerror=…>`) is shown as text.

import { api, adminPath, tenantPath } from "./api.js";
import { openDialog } from "./dialog.js";
import { h } from "./dom.js";
import { formatDate, formatNumber, t } from "./i18n.js";
import { markdown } from "./markdown.js";

function body(document, snippet) {
  return h(
    "article",
    { class: "document", "data-document": document.document_id },
    h(
      "p",
      { class: "muted" },
      `${document.document_id} · ${document.source_type} · ${t("documents.chunks", { n: formatNumber(document.chunk_count) })} · ${formatDate(document.updated_at)}`,
    ),
    snippet ? h("blockquote", { class: "cited" }, h("strong", null, t("documents.cited")), " ", String(snippet)) : null,
    h("div", { class: "document-text" }, markdown(document.text, { headingOffset: 1 })),
  );
}

/** Open a document of the signed-in user's tenant (`admin`: through the admin API for `tenant`). */
export async function openDocument(tenant, documentId, { snippet, admin = false } = {}) {
  const loading = h("p", { class: "muted", role: "status" }, t("common.loading"));
  const dialog = openDialog(t("documents.loadingTitle"), loading, { wide: true });
  try {
    const path = admin
      ? adminPath(tenant, `/knowledge/${encodeURIComponent(documentId)}`)
      : tenantPath(tenant, `/documents/${encodeURIComponent(documentId)}`);
    const document = await api("GET", path);
    dialog.querySelector("h2").textContent = document.title;
    loading.replaceWith(body(document, snippet));
  } catch (error) {
    dialog.querySelector("h2").textContent = t("documents.unavailable");
    const message = error.code === "denied" ? t("documents.denied") : error.message;
    loading.replaceWith(h("p", { class: "error", role: "alert", "data-code": error.code || "" }, message));
  }
}
