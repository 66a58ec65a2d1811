// The tenant's knowledge base: upload (a large file becomes a job whose progress shows live),
// list, read and delete documents.

import { adminPath, api } from "../../api.js";
import { confirmAction } from "../../dialog.js";
import { openDocument } from "../../documents.js";
import { field, h, replace, toast } from "../../dom.js";
import { formatDate, formatNumber, t } from "../../i18n.js";
import { busy, errorBox, page, section } from "./common.js";

const POLL_MS = 400;

function base64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

export async function knowledgePage(root, { tenant }) {
  const listArea = h("div", { id: "document-table" });
  const progressArea = h("div", { id: "upload-progress", "aria-live": "polite" });
  const file = h("input", { id: "upload-file", type: "file", accept: ".md,.markdown,.txt,.html,.htm,.pdf,text/markdown,text/plain,text/html,application/pdf", required: true });
  const title = h("input", { id: "upload-title", maxlength: 300 });
  const documentId = h("input", { id: "upload-id", maxlength: 128, spellcheck: "false" });
  const upload = h("button", { type: "submit", class: "primary", id: "upload-send" }, t("knowledge.upload"));
  let stopped = false;

  async function follow(jobId) {
    const bar = h("progress", { max: 1, value: 0, id: "job-progress" });
    const label = h("span", { class: "muted" });
    replace(progressArea, h("div", { class: "job", "data-job": jobId }, h("label", { for: "job-progress" }, t("knowledge.job", { id: jobId })), bar, label));
    while (!stopped) {
      const job = await api("GET", adminPath(tenant, `/knowledge/jobs/${jobId}`));
      bar.value = job.progress;
      label.textContent = ` ${t(`knowledge.state.${job.state}`)} · ${job.phase} ${job.done}/${job.total} · ${formatNumber(job.progress * 100, { maximumFractionDigits: 0 })}%`;
      if (job.state === "succeeded" || job.state === "failed") {
        progressArea.firstChild.dataset.state = job.state;
        if (job.state === "failed") progressArea.append(errorBox({ message: job.error || t("knowledge.failed") }));
        return job;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return null;
  }

  const form = h(
    "form",
    { class: "stack", id: "upload-form" },
    field(t("knowledge.file"), file, t("knowledge.fileHint")),
    h("div", { class: "two-columns" }, field(t("knowledge.titleField"), title, t("knowledge.titleHint")), field(t("knowledge.documentId"), documentId, t("knowledge.documentIdHint"))),
    h("div", { class: "actions" }, upload),
    progressArea,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    busy(upload, async () => {
      try {
        const body = { filename: chosen.name, content_base64: await base64(chosen) };
        if (title.value.trim()) body.title = title.value.trim();
        if (documentId.value.trim()) body.document_id = documentId.value.trim();
        replace(progressArea, h("p", { class: "muted" }, t("knowledge.sending")));
        const outcome = await api("POST", adminPath(tenant, "/knowledge"), body);
        if (outcome.status === "queued" && outcome.job) await follow(outcome.job.job_id);
        else replace(progressArea, h("p", { class: "ok", "data-state": outcome.status }, t(`knowledge.outcome.${outcome.status}`, { id: outcome.document_id })));
        form.reset();
        await load();
      } catch (error) {
        replace(progressArea, errorBox(error));
      }
    });
  });

  async function remove(document) {
    if (!(await confirmAction(t("knowledge.confirmDelete", { title: document.title }), t("common.delete")))) return;
    try {
      await api("DELETE", adminPath(tenant, `/knowledge/${encodeURIComponent(document.document_id)}`));
      toast(t("knowledge.deleted", { title: document.title }));
      await load();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function load() {
    let listing;
    try {
      listing = await api("GET", adminPath(tenant, "/knowledge"));
    } catch (error) {
      replace(listArea, errorBox(error));
      return;
    }
    replace(
      listArea,
      listing.documents.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "records" },
              h("thead", null, h("tr", null, [t("knowledge.titleField"), t("knowledge.documentId"), t("knowledge.kind"), t("knowledge.chunks"), t("common.updated"), ""].map((c) => h("th", { scope: "col" }, c)))),
              h(
                "tbody",
                null,
                listing.documents.map((document) =>
                  h(
                    "tr",
                    { "data-document": document.document_id },
                    h("td", null, document.title),
                    h("td", null, h("code", null, document.document_id)),
                    h("td", null, document.source_type),
                    h("td", { class: "num" }, formatNumber(document.chunk_count)),
                    h("td", null, formatDate(document.updated_at)),
                    h(
                      "td",
                      { class: "row-actions" },
                      h("button", { type: "button", class: "small", "data-view": document.document_id, onClick: () => openDocument(tenant, document.document_id, { admin: true }) }, t("common.view")),
                      h("button", { type: "button", class: "small danger", "data-delete": document.document_id, onClick: () => remove(document) }, t("common.delete")),
                    ),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, t("knowledge.empty")),
    );
  }

  replace(root, page("knowledge", t("admin.page.knowledge"), t("knowledge.intro"), section(t("knowledge.uploadTitle"), form), section(t("knowledge.documents"), listArea)));
  await load();
  return () => {
    stopped = true;
  };
}
