// Usage and cost: per day and per agent as charts, with the tenant's daily budget drawn on the
// cost chart, and the totals.

import { adminPath, api } from "../../api.js";
import { barChart } from "../../chart.js";
import { field, h, replace } from "../../dom.js";
import { agentTitle, formatMoney, formatNumber, t } from "../../i18n.js";
import { recordTable } from "../../table.js";
import { busy, errorBox, page, section } from "./common.js";

const MEASURES = ["requests", "total_tokens", "cost_usd", "tool_calls"];

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

export async function usagePage(root, { tenant }) {
  const today = new Date();
  const since = h("input", { id: "usage-since", type: "date", value: isoDay(new Date(today.getTime() - 29 * 86400000)) });
  const until = h("input", { id: "usage-until", type: "date", value: isoDay(today) });
  const measure = h("select", { id: "usage-measure" }, MEASURES.map((m) => h("option", { value: m }, t(`usage.${m}`))));
  const show = h("button", { type: "submit", class: "primary" }, t("common.show"));
  const output = h("div", { id: "usage-output", "aria-live": "polite" });
  let budget = null;
  // Agents by the title the reader's language gives them (their names when the list cannot be read).
  let titles = new Map();
  try {
    titles = new Map((await api("GET", adminPath(tenant, "/agents"))).items.map((agent) => [agent.name, agentTitle(agent)]));
  } catch {
    titles = new Map();
  }
  const agentLabel = (name) => (name ? titles.get(name) || name : t("usage.noAgent"));

  function format(key) {
    return key === "cost_usd" ? (v) => formatMoney(v) : (v) => formatNumber(v);
  }

  async function load() {
    try {
      const [summary, policy] = await Promise.all([
        api("GET", adminPath(tenant, `/usage?since=${since.value}&until=${until.value}`)),
        budget === null ? api("GET", adminPath(tenant, "/policy")).catch(() => null) : Promise.resolve(null),
      ]);
      if (policy) budget = policy.limits?.daily_cost_usd ?? null;
      const key = measure.value;
      const totals = summary.totals;
      replace(
        output,
        h(
          "div",
          { class: "totals", id: "usage-totals" },
          MEASURES.map((m) => h("div", { class: "total", "data-measure": m }, h("span", { class: "muted" }, t(`usage.${m}`)), h("strong", null, format(m)(totals[m])))),
          h("div", { class: "total", "data-measure": "budget" }, h("span", { class: "muted" }, t("usage.budget")), h("strong", null, budget === null ? t("usage.noBudget") : `${formatMoney(budget)} / ${t("usage.day")}`)),
        ),
        h(
          "figure",
          { class: "usage-chart", id: "usage-by-day" },
          barChart(
            summary.by_day.map((day) => ({ label: day.day.slice(5), value: day[key] })),
            {
              title: t("usage.byDay", { measure: t(`usage.${key}`) }),
              format: format(key),
              limit: key === "cost_usd" && budget !== null ? budget : null,
              limitLabel: t("usage.budgetLine", { amount: budget === null ? "" : formatMoney(budget) }),
            },
          ),
          h("figcaption", null, t("usage.byDay", { measure: t(`usage.${key}`) })),
        ),
        h(
          "figure",
          { class: "usage-chart", id: "usage-by-agent" },
          barChart(
            summary.by_agent.map((row) => ({ label: agentLabel(row.agent), value: row[key] })),
            { title: t("usage.byAgent", { measure: t(`usage.${key}`) }), format: format(key) },
          ),
          h("figcaption", null, t("usage.byAgent", { measure: t(`usage.${key}`) })),
        ),
        h("h3", null, t("usage.byAgentTable")),
        recordTable(
          summary.by_agent.map((row) => ({ ...row, agent: agentLabel(row.agent) })),
          { columns: ["agent", ...MEASURES], labels: { agent: t("usage.agent"), ...Object.fromEntries(MEASURES.map((m) => [m, t(`usage.${m}`)])) }, cell: (column, value) => (column === "cost_usd" ? formatMoney(value) : column === "agent" ? value : formatNumber(value)) },
        ),
        h("h3", null, t("usage.byChannel")),
        recordTable(summary.by_channel, { columns: ["channel", ...MEASURES], labels: { channel: t("usage.channel"), ...Object.fromEntries(MEASURES.map((m) => [m, t(`usage.${m}`)])) } }),
      );
    } catch (error) {
      replace(output, errorBox(error));
    }
  }

  const form = h(
    "form",
    { class: "inline-form", id: "usage-form" },
    field(t("usage.since"), since),
    field(t("usage.until"), until),
    field(t("usage.measure"), measure),
    show,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(show, load);
  });
  measure.addEventListener("change", () => busy(show, load));

  replace(root, page("usage", t("admin.page.usage"), t("usage.intro"), section(t("usage.title"), form, output)));
  await load();
  return null;
}
