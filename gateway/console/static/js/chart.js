// Bar charts drawn as SVG (no library): for `chart_data` answers and the usage page.
//
// Every bar has a <title> (its label and value) and the chart has a text summary for screen
// readers; the numbers are also offered as a table next to it by the callers.

import { s } from "./dom.js";
import { formatNumber } from "./i18n.js";

const WIDTH = 640;
const BAR_AREA = 180;
const LABEL_AREA = 56;
const TOP = 16;
const LEFT = 56;

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const steps = [1, 2, 2.5, 5, 10];
  return steps.map((step) => step * power).find((candidate) => candidate >= value) || value;
}

/**
 * A bar chart of `points` ([{label, value}]) titled `title`. `limit`, when given, is drawn as a
 * dashed line (a budget).
 */
export function barChart(points, { title, format = (v) => formatNumber(v), limit = null, limitLabel = "" } = {}) {
  const max = niceMax(Math.max(limit || 0, ...points.map((p) => p.value), 0));
  const slot = points.length ? (WIDTH - LEFT - 8) / points.length : 0;
  const barWidth = Math.max(4, Math.min(48, slot * 0.7));
  const y = (value) => TOP + BAR_AREA - (value / max) * BAR_AREA;
  const ticks = [0, max / 2, max];
  const summary = points.map((p) => `${p.label}: ${format(p.value)}`).join("; ");
  return s(
    "svg",
    {
      class: "chart",
      viewBox: `0 0 ${WIDTH} ${TOP + BAR_AREA + LABEL_AREA}`,
      role: "img",
      "aria-label": `${title}. ${summary}`,
    },
    s("title", null, title),
    ticks.map((tick) =>
      s(
        "g",
        { class: "tick" },
        s("line", { x1: LEFT, x2: WIDTH, y1: y(tick), y2: y(tick) }),
        s("text", { x: LEFT - 6, y: y(tick) + 4, "text-anchor": "end" }, format(tick)),
      ),
    ),
    points.map((point, index) => {
      const x = LEFT + index * slot + (slot - barWidth) / 2;
      const height = Math.max(point.value > 0 ? 1 : 0, (point.value / max) * BAR_AREA);
      return s(
        "g",
        { class: "bar", "data-label": point.label, "data-value": point.value },
        s("rect", { x, y: TOP + BAR_AREA - height, width: barWidth, height, rx: 2 }, s("title", null, `${point.label}: ${format(point.value)}`)),
        s(
          "text",
          { x: x + barWidth / 2, y: TOP + BAR_AREA + 16, "text-anchor": "middle", class: "bar-label" },
          point.label.length > 12 ? `${point.label.slice(0, 11)}…` : point.label,
        ),
      );
    }),
    limit !== null
      ? s(
          "g",
          { class: "limit" },
          s("line", { x1: LEFT, x2: WIDTH, y1: y(limit), y2: y(limit) }),
          s("text", { x: WIDTH - 4, y: y(limit) - 4, "text-anchor": "end" }, limitLabel),
        )
      : null,
  );
}
