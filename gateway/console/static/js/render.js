// An answer drawn as its renderer hints ask: the text as safe Markdown with its citations, then
// the data as a sortable table (`markdown_table`, or the rows a `summary_text` names), a bar
// chart (`chart_data`), labelled fields with a JSON viewer (`structured_json`), and the raw data
// one click away.

import { barChart } from "./chart.js";
import { h } from "./dom.js";
import { formatNumber, language, t } from "./i18n.js";
import { jsonView } from "./jsonview.js";
import { markdown } from "./markdown.js";
import { cellText, label, recordTable } from "./table.js";

/** The value at a dotted path (`a.b`) of `data`. */
function at(data, path) {
  return String(path)
    .split(".")
    .reduce((value, key) => (value && typeof value === "object" ? value[key] : undefined), data);
}

function isRecordList(value) {
  return Array.isArray(value) && value.length > 0 && value.every((item) => item && typeof item === "object" && !Array.isArray(item));
}

/** The list of records the hints point at (`render.rows`), else the data's first such list. */
export function rowsOf(data, render) {
  if (!data || typeof data !== "object") return null;
  if (render?.rows) {
    const rows = at(data, render.rows);
    if (isRecordList(rows)) return { key: render.rows, rows };
  }
  for (const [key, value] of Object.entries(data)) if (isRecordList(value)) return { key, rows: value };
  return null;
}

function scalarColumns(rows) {
  const keys = [];
  for (const row of rows.slice(0, 20)) {
    for (const [key, value] of Object.entries(row)) {
      if (!keys.includes(key) && (value === null || typeof value !== "object")) keys.push(key);
    }
  }
  return keys;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// A whole value only: a title that starts with a date keeps its text. A local offset is dropped
// (the ERP's times are its business's); a time in UTC says so, as the planner's text does.
const ISO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const UTC_ZONES = new Set(["Z", "+00:00", "+0000", "-00:00"]);

/**
 * The tool's wording in the console's language (its renderer hints' `translations`): field
 * labels, words for coded values (`unpaid`), and dates as the reader writes them, as the
 * planner's own answer text has them.
 */
function wording(render) {
  const lang = language();
  const words = render.translations?.[lang] || {};
  // Hints come from servers, some registered by tenants: read only their own string entries.
  const own = (table, key) => (table && Object.hasOwn(table, key) && typeof table[key] === "string" ? table[key] : null);
  return {
    label: (key) => {
      const text = own(words.labels, key);
      return text ? text.charAt(0).toUpperCase() + text.slice(1) : label(key);
    },
    cell: (value) => {
      if (typeof value !== "string") return cellText(value);
      const worded = own(words.values, value);
      if (worded !== null) return worded;
      let match = ISO_DATETIME.exec(value);
      if (match) {
        const [, year, month, day, hour, minute, zone] = match;
        const utc = UTC_ZONES.has(zone) ? " UTC" : "";
        return (lang === "vi" ? `${hour}:${minute} ${day}/${month}/${year}` : `${year}-${month}-${day} ${hour}:${minute}`) + utc;
      }
      match = ISO_DATE.exec(value);
      if (match && lang === "vi") return `${match[3]}/${match[2]}/${match[1]}`;
      return value;
    },
  };
}

/** A field's shown value: OCR-style `{value, text, confidence}` objects show their value. */
function shown(value, words) {
  if (value && typeof value === "object" && !Array.isArray(value) && "value" in value) {
    const confidence = typeof value.confidence === "number" ? ` (${formatNumber(value.confidence * 100, { maximumFractionDigits: 0 })}%)` : "";
    return `${words.cell(value.value)}${value.value === null ? "" : confidence}`;
  }
  return words.cell(value);
}

function facts(data, fields, words) {
  const present = fields.filter((key) => at(data, key) !== undefined && !isRecordList(at(data, key)));
  if (!present.length) return null;
  return h(
    "dl",
    { class: "facts" },
    present.map((key) => [h("dt", null, words.label(key)), h("dd", { "data-field": key }, shown(at(data, key), words))]),
  );
}

function chartOf(rows, fields, words) {
  const columns = fields.length ? fields : scalarColumns(rows);
  const labelKey = columns.find((key) => rows.some((row) => typeof row[key] === "string")) || columns[0];
  const valueKey = columns.find((key) => key !== labelKey && rows.every((row) => typeof row[key] === "number" || row[key] == null));
  if (!valueKey) return null;
  return h(
    "figure",
    { class: "answer-chart" },
    barChart(
      rows.map((row) => ({ label: String(row[labelKey] ?? "–"), value: Number(row[valueKey] || 0) })),
      { title: `${words.label(valueKey)} / ${words.label(labelKey)}` },
    ),
    h("figcaption", null, `${words.label(valueKey)} / ${words.label(labelKey)}`),
  );
}

function citationButton(citation, onCitation) {
  return h(
    "button",
    {
      type: "button",
      class: "citation",
      "data-document": citation.document_id ?? "",
      "aria-label": t("chat.openCitation", { n: citation.index, title: citation.title ?? "" }),
      onClick: () => onCitation(citation),
    },
    `[${citation.index}]`,
  );
}

/** The answer text without the local planner's trailing source list, "Sources:" or "Nguồn:"
 * (shown as buttons instead). */
function withoutSourceList(answer, citations) {
  if (!citations.length) return answer;
  return answer.replace(/\n+(Sources|Nguồn):\n(\[\d+\][^\n]*\n?)+\s*$/u, "");
}

/** Drop Markdown tables from an answer whose rows are drawn as a sortable table instead. */
function withoutTables(answer) {
  return answer.replace(/(^|\n)\|[^\n]*\|\n\|[\s:|-]+\|\n(\|[^\n]*\|\n?)*/g, "\n");
}

export function renderReply(reply, { onCitation = () => {} } = {}) {
  const render = reply.render || {};
  const format = render.format || "summary_text";
  const citations = reply.citations || [];
  const byIndex = new Map(citations.map((c) => [Number(c.index), c]));
  const data = reply.data && typeof reply.data === "object" ? reply.data : null;
  const rows = data ? rowsOf(data, render) : null;
  const tableDrawn = Boolean(rows);

  let answer = withoutSourceList(String(reply.answer ?? ""), citations);
  if (tableDrawn) answer = withoutTables(answer);

  const parts = [
    h(
      "div",
      { class: "answer-text" },
      markdown(answer, {
        citation: (n) => (byIndex.has(n) ? citationButton(byIndex.get(n), onCitation) : null),
      }),
    ),
  ];

  if (data) {
    const fields = Array.isArray(render.fields) ? render.fields : [];
    const words = wording(render);
    if (format === "structured_json") {
      parts.push(facts(data, fields.length ? fields : Object.keys(data), words));
    } else if (format === "summary_text" && fields.length) {
      parts.push(facts(data, fields, words));
    }
    if (rows) {
      const rowFields = fields.filter((key) => rows.rows.some((row) => key in row));
      const columns = rowFields.length ? rowFields : scalarColumns(rows.rows);
      if (format === "chart_data") parts.push(chartOf(rows.rows, rowFields, words));
      const sortable = Array.isArray(render.sortable) && render.sortable.length ? render.sortable : true;
      const labels = Object.fromEntries(columns.map((key) => [key, words.label(key)]));
      const cell = (key, value) => words.cell(value);
      parts.push(recordTable(rows.rows, { columns, sortable, caption: words.label(rows.key), labels, cell }));
    }
    parts.push(
      h("details", { class: "raw-data" }, h("summary", null, t("chat.rawData")), jsonView(data, { label: t("chat.rawData") })),
    );
  }

  if (citations.length) {
    parts.push(
      h(
        "div",
        { class: "sources" },
        h("h4", null, t("chat.sources")),
        h(
          "ol",
          null,
          citations.map((citation) =>
            h(
              "li",
              null,
              h(
                "button",
                { type: "button", class: "link", "data-document": citation.document_id ?? "", onClick: () => onCitation(citation) },
                citation.title || citation.document_id || `#${citation.index}`,
              ),
              citation.snippet ? h("p", { class: "snippet" }, String(citation.snippet).slice(0, 240)) : null,
            ),
          ),
        ),
      ),
    );
  }
  return h("div", { class: ["answer", `format-${format}`] }, parts);
}
