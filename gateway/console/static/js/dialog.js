// Modal dialogs (<dialog>): the browser traps focus and closes on Escape; focus returns to
// whatever opened the dialog.

import { h } from "./dom.js";
import { t } from "./i18n.js";

export function openDialog(title, body, { wide = false } = {}) {
  const opener = document.activeElement;
  const heading = h("h2", { id: `dialog-title-${Date.now()}` }, title);
  const close = h("button", { type: "button", class: "icon close", "aria-label": t("common.close"), onClick: () => dialog.close() }, "×");
  const dialog = h(
    "dialog",
    { class: ["dialog", wide ? "wide" : null], "aria-labelledby": heading.id },
    h("header", { class: "dialog-head" }, heading, close),
    h("div", { class: "dialog-body" }, body),
  );
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener && typeof opener.focus === "function") opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Ask before a destructive action; resolves to true when confirmed. */
export function confirmAction(message, confirmLabel) {
  return new Promise((resolve) => {
    let answered = false;
    const dialog = openDialog(
      t("common.confirm"),
      h(
        "div",
        null,
        h("p", null, message),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "danger", "data-confirm": "yes", onClick: () => { answered = true; dialog.close(); resolve(true); } }, confirmLabel),
          h("button", { type: "button", onClick: () => dialog.close() }, t("common.cancel")),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      if (!answered) resolve(false);
    });
  });
}
