// A safe subset of Markdown, rendered straight to DOM nodes.
//
// Answers and documents are Markdown written by models, tools and people the console does not
// trust. Instead of producing HTML and sanitising it, this renderer only ever creates the
// elements it knows (paragraphs, headings, lists, quotes, code, tables, emphasis, links) and puts
// every piece of text in Text nodes: raw HTML in the source (`<script>`, `<img onerror=…>`)
// stays visible text and never becomes an element. Links keep only http(s) and site-relative
// URLs. Citation markers (`[1]`) become buttons when the caller knows what they cite.

import { h, safeUrl } from "./dom.js";

const FENCE = /^\s{0,3}(```|~~~)\s*([\w+-]*)\s*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const ORDERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const TABLE_SEPARATOR = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  const cells = [];
  let cell = "";
  for (let i = 0; i < row.length; i += 1) {
    if (row[i] === "\\" && row[i + 1] === "|") {
      cell += "|";
      i += 1;
    } else if (row[i] === "|") {
      cells.push(cell.trim());
      cell = "";
    } else {
      cell += row[i];
    }
  }
  cells.push(cell.trim());
  return cells;
}

const INLINE = new RegExp(
  [
    "`([^`]+)`", // 1 code
    "\\*\\*([^*]+)\\*\\*", // 2 strong
    "__([^_]+)__", // 3 strong
    "\\*([^*\\s][^*]*)\\*", // 4 emphasis
    "(?<![\\w])_([^_\\s][^_]*)_(?![\\w])", // 5 emphasis
    "\\[([^\\]]+)\\]\\(([^)\\s]+)\\)", // 6 text, 7 url
    "\\[(\\d{1,2})\\]", // 8 citation
    "(https?://[^\\s<>\"')\\]]+)", // 9 bare URL
  ].join("|"),
  "g",
);

function link(text, url) {
  if (!safeUrl(url)) return document.createTextNode(text);
  const external = /^https?:/i.test(url) && !url.startsWith(window.location.origin);
  return h("a", { href: url, ...(external ? { target: "_blank", rel: "noopener noreferrer" } : {}) }, text);
}

/** Inline Markdown of one piece of text, as nodes. */
export function inline(text, options = {}) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
    last = match.index + match[0].length;
    if (match[1] !== undefined) nodes.push(h("code", null, match[1]));
    else if (match[2] !== undefined || match[3] !== undefined) nodes.push(h("strong", null, inline(match[2] ?? match[3], options)));
    else if (match[4] !== undefined || match[5] !== undefined) nodes.push(h("em", null, inline(match[4] ?? match[5], options)));
    else if (match[6] !== undefined) nodes.push(link(match[6], match[7]));
    else if (match[8] !== undefined) {
      const marker = Number(match[8]);
      const cite = options.citation?.(marker);
      nodes.push(cite || document.createTextNode(match[0]));
    } else if (match[9] !== undefined) {
      const url = match[9].replace(/[.,;:]+$/, "");
      nodes.push(link(url, url));
      if (url.length < match[9].length) nodes.push(document.createTextNode(match[9].slice(url.length)));
    }
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

function withBreaks(lines, options) {
  const nodes = [];
  lines.forEach((line, index) => {
    if (index) nodes.push(h("br"));
    nodes.push(...inline(line, options));
  });
  return nodes;
}

/** Markdown `source` as a fragment of safe nodes. `options.citation(n)` may return a node for `[n]`. */
export function markdown(source, options = {}) {
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
  const fragment = document.createDocumentFragment();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const fence = line.match(FENCE);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i += 1;
      fragment.append(h("pre", null, h("code", fence[2] ? { "data-lang": fence[2] } : null, body.join("\n"))));
      continue;
    }
    const heading = line.match(HEADING);
    if (heading) {
      const level = Math.min(6, heading[1].length + (options.headingOffset || 0));
      fragment.append(h(`h${level}`, null, inline(heading[2], options)));
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      fragment.append(h("hr"));
      i += 1;
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_SEPARATOR.test(lines[i + 1]) && lines[i + 1].includes("-")) {
      const header = splitRow(line);
      i += 2;
      const rows = [];
      while (i < lines.length && lines[i].includes("|") && lines[i].trim()) rows.push(splitRow(lines[i++]));
      fragment.append(
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "md-table" },
            h("thead", null, h("tr", null, header.map((cell) => h("th", { scope: "col" }, inline(cell, options))))),
            h("tbody", null, rows.map((row) => h("tr", null, header.map((_, c) => h("td", null, inline(row[c] ?? "", options)))))),
          ),
        ),
      );
      continue;
    }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && QUOTE.test(lines[i])) body.push(lines[i++].match(QUOTE)[1]);
      fragment.append(h("blockquote", null, markdown(body.join("\n"), options)));
      continue;
    }
    if (BULLET.test(line) || ORDERED.test(line)) {
      const ordered = !BULLET.test(line);
      const pattern = ordered ? ORDERED : BULLET;
      const items = [];
      while (i < lines.length && pattern.test(lines[i])) {
        const match = lines[i].match(pattern);
        const text = [ordered ? match[2] : match[1]];
        i += 1;
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !BULLET.test(lines[i]) && !ORDERED.test(lines[i])) {
          text.push(lines[i++].trim());
        }
        items.push(h("li", null, withBreaks(text, options)));
      }
      fragment.append(h(ordered ? "ol" : "ul", null, items));
      continue;
    }
    const paragraph = [];
    while (
      i < lines.length &&
      lines[i].trim() &&
      !FENCE.test(lines[i]) &&
      !HEADING.test(lines[i]) &&
      !BULLET.test(lines[i]) &&
      !ORDERED.test(lines[i]) &&
      !QUOTE.test(lines[i]) &&
      !(lines[i].includes("|") && i + 1 < lines.length && TABLE_SEPARATOR.test(lines[i + 1]) && lines[i + 1].includes("-"))
    ) {
      paragraph.push(lines[i++]);
    }
    fragment.append(h("p", null, withBreaks(paragraph, options)));
  }
  return fragment;
}
