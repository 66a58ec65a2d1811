// Pieces every admin page uses: a titled page, an error box, buttons that show they are busy,
// and JSON editors that say what is wrong with their text.

import { h } from "../../dom.js";
import { t } from "../../i18n.js";

export function page(id, title, intro, ...children) {
  return h(
    "section",
    { class: "page admin-page", "data-admin-page": id },
    h("h1", null, title),
    intro ? h("p", { class: "muted intro" }, intro) : null,
    children,
  );
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", null, title), children);
}

/** An error as the API said it: message, code, and each problem of a validation error. */
export function errorBox(error) {
  const details = Array.isArray(error.details) ? error.details : [];
  return h(
    "div",
    { class: "notice error", role: "alert", "data-code": error.code || "" },
    h("strong", null, error.message || String(error)),
    error.code ? h("span", { class: "muted" }, ` (${error.code})`) : null,
    details.length ? h("ul", null, details.map((d) => h("li", null, `${d.field}: ${d.problem}`))) : null,
  );
}

export function notice(text, kind = "info") {
  return h("div", { class: ["notice", kind], role: kind === "error" ? "alert" : "status" }, text);
}

/** Run `action` with `button` disabled and marked busy; the result or error goes to `output`. */
export async function busy(button, action) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** A textarea holding JSON; `read()` returns the value or throws an Error naming the problem. */
export function jsonEditor(id, value, rows = 8) {
  const area = h("textarea", { id, rows, class: "code", spellcheck: "false" });
  area.value = value === undefined ? "" : JSON.stringify(value, null, 2);
  area.read = () => {
    const text = area.value.trim();
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new Error(t("admin.invalidJson", { problem: error.message }));
    }
  };
  return area;
}

export function lines(text) {
  return String(text || "")
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
}

export function badge(text, kind = "subtle") {
  return h("span", { class: ["badge", kind] }, text);
}
