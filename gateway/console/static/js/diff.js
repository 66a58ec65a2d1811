// A line diff (longest common subsequence) of two JSON values, pretty-printed: what changed in a
// tool's definition between the accepted pin and what the server serves now.

import { h } from "./dom.js";

function pretty(value) {
  return JSON.stringify(value, Object.keys(flatKeys(value)).sort(), 2).split("\n");
}

function flatKeys(value, keys = {}) {
  if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (!Array.isArray(value)) keys[key] = true;
      flatKeys(item, keys);
    }
  }
  return keys;
}

/** [{kind: "same" | "added" | "removed", text}] turning `before` into `after`. */
export function lineDiff(before, after) {
  const a = pretty(before);
  const b = pretty(after);
  const lengths = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      lengths[i][j] = a[i] === b[j] ? lengths[i + 1][j + 1] + 1 : Math.max(lengths[i + 1][j], lengths[i][j + 1]);
    }
  }
  const lines = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      lines.push({ kind: "same", text: a[i] });
      i += 1;
      j += 1;
    } else if (lengths[i + 1][j] >= lengths[i][j + 1]) {
      lines.push({ kind: "removed", text: a[i++] });
    } else {
      lines.push({ kind: "added", text: b[j++] });
    }
  }
  while (i < a.length) lines.push({ kind: "removed", text: a[i++] });
  while (j < b.length) lines.push({ kind: "added", text: b[j++] });
  return lines;
}

export function diffView(before, after, { label } = {}) {
  const marks = { same: " ", added: "+", removed: "-" };
  return h(
    "pre",
    { class: "diff", "aria-label": label || "diff" },
    lineDiff(before, after).map((line) => h("span", { class: `diff-${line.kind}` }, `${marks[line.kind]} ${line.text}\n`)),
  );
}
