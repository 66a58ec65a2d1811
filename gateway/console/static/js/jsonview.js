// A JSON viewer: objects and arrays fold open and closed (<details>), values are text.

import { h } from "./dom.js";

const MAX_STRING = 400;

function scalar(value) {
  if (value === null) return h("span", { class: "json-null" }, "null");
  if (typeof value === "string") {
    const shown = value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}… (${value.length} chars)` : value;
    return h("span", { class: "json-string" }, JSON.stringify(shown));
  }
  return h("span", { class: `json-${typeof value}` }, String(value));
}

function node(key, value, depth, openDepth) {
  const name = key === null ? null : h("span", { class: "json-key" }, `${key}: `);
  if (value === null || typeof value !== "object") return h("div", { class: "json-row" }, name, scalar(value));
  const entries = Array.isArray(value) ? value.map((item, index) => [index, item]) : Object.entries(value);
  const brackets = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return h(
    "details",
    { class: "json-node", open: depth < openDepth },
    h("summary", null, name, `${brackets[0]} ${entries.length} ${brackets[1]}`),
    h("div", { class: "json-children" }, entries.map(([k, v]) => node(k, v, depth + 1, openDepth))),
  );
}

/** `value` as a tree, its first `openDepth` levels unfolded. */
export function jsonView(value, { label, openDepth = 2 } = {}) {
  return h("div", { class: "json-view", role: "group", "aria-label": label || "JSON" }, node(null, value, 0, openDepth));
}
