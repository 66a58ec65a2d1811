// The console's two languages: every string the interface itself shows comes from `strings.js`.
//
// The choice is a UI preference remembered in a cookie (`agentmesh_lang`, readable by the page,
// never a secret); without one, the browser's language decides. Numbers and dates follow the
// chosen language's locale.

import { STRINGS } from "./strings.js";

const COOKIE = "agentmesh_lang";
const LOCALES = { en: "en-US", vi: "vi-VN" };
const listeners = new Set();

function fromCookie() {
  const match = document.cookie.match(/(?:^|;\s*)agentmesh_lang=(en|vi)(?:;|$)/);
  return match ? match[1] : null;
}

function fromBrowser() {
  const languages = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  return languages.some((tag) => String(tag).toLowerCase().startsWith("vi")) ? "vi" : "en";
}

let current = fromCookie() || fromBrowser();

export function language() {
  return current;
}

export function locale() {
  return LOCALES[current];
}

/** An agent's title in the current language (its `display`), else its name. */
export function agentTitle(agent) {
  return agent.display?.[current]?.title || agent.name;
}

export function setLanguage(lang) {
  if (!(lang in LOCALES) || lang === current) return;
  current = lang;
  document.cookie = `${COOKIE}=${lang}; path=/; max-age=31536000; samesite=strict`;
  document.documentElement.lang = lang;
  for (const listener of listeners) listener(lang);
}

export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The string `key` in the current language, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const table = STRINGS[current] || STRINGS.en;
  let text = table[key];
  if (text === undefined) text = STRINGS.en[key];
  if (text === undefined) {
    console.warn(`missing string: ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

export function formatNumber(value, options = {}) {
  if (typeof value !== "number" || !Number.isFinite(value)) return String(value ?? "–");
  return new Intl.NumberFormat(locale(), options).format(value);
}

export function formatMoney(value) {
  return formatNumber(value, { style: "currency", currency: "USD", maximumFractionDigits: 4 });
}

export function formatDate(value, withTime = true) {
  if (!value) return "–";
  const date = typeof value === "number" ? new Date(value) : new Date(String(value));
  if (Number.isNaN(date.getTime())) return String(value);
  const options = withTime
    ? { dateStyle: "medium", timeStyle: "short" }
    : { dateStyle: "medium" };
  return new Intl.DateTimeFormat(locale(), options).format(date);
}

export function formatMs(ms) {
  if (typeof ms !== "number") return "–";
  return ms >= 1000 ? `${formatNumber(ms / 1000, { maximumFractionDigits: 1 })} s` : `${formatNumber(Math.round(ms))} ms`;
}

document.documentElement.lang = current;

/** The string `key` if the table has it, else `fallback` (for values from the server, like reasons). */
export function tOr(key, fallback, vars = {}) {
  const table = STRINGS[current] || STRINGS.en;
  return key in table || key in STRINGS.en ? t(key, vars) : fallback;
}
