// Tables of records, with columns that sort on click (or Enter/Space on the header's button).

import { h, replace } from "./dom.js";
import { formatNumber, t } from "./i18n.js";

export function label(key) {
  const text = String(key).replace(/[_.]+/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function cellText(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "boolean") return value ? t("common.yes") : t("common.no");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/**
 * A table of `rows` (objects) over `columns` (keys). Columns in `sortable` (all when it is
 * `true`) get a header button that sorts ascending, then descending.
 */
export function recordTable(rows, { columns, sortable = true, caption, labels = {}, cell } = {}) {
  const keys = columns && columns.length ? columns : Object.keys(rows[0] || {}).filter((k) => typeof rows[0][k] !== "object");
  const sortableKeys = new Set(sortable === true ? keys : sortable || []);
  let order = { key: null, direction: 1 };
  const body = h("tbody");
  const headers = new Map();

  function draw() {
    const sorted = [...rows];
    if (order.key) sorted.sort((a, b) => order.direction * compare(a[order.key], b[order.key]));
    replace(
      body,
      sorted.map((row) =>
        h(
          "tr",
          null,
          keys.map((key) => {
            const value = row[key];
            const content = cell ? cell(key, value, row) : cellText(value);
            return h("td", { class: typeof value === "number" ? "num" : null }, content);
          }),
        ),
      ),
    );
    for (const [key, th] of headers) {
      th.setAttribute("aria-sort", order.key === key ? (order.direction > 0 ? "ascending" : "descending") : "none");
    }
  }

  const head = h(
    "tr",
    null,
    keys.map((key) => {
      const text = labels[key] || label(key);
      if (!sortableKeys.has(key)) return h("th", { scope: "col" }, text);
      const button = h(
        "button",
        {
          type: "button",
          class: "sort",
          "data-column": key,
          onClick: () => {
            order = { key, direction: order.key === key ? -order.direction : 1 };
            draw();
          },
        },
        text,
        h("span", { class: "sort-mark", "aria-hidden": "true" }),
      );
      const th = h("th", { scope: "col", "aria-sort": "none" }, button);
      headers.set(key, th);
      return th;
    }),
  );
  draw();
  return h(
    "div",
    { class: "table-wrap" },
    h("table", { class: "records" }, caption ? h("caption", null, caption) : null, h("thead", null, head), body),
  );
}
