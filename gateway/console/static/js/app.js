// The console's entry point: who is signed in, the page shell, and which view the path shows.

import { whenSignedOut } from "./api.js";
import { session, signOut } from "./auth.js";
import { h, replace } from "./dom.js";
import { language, onLanguageChange, setLanguage, t } from "./i18n.js";
import { isAdmin } from "./roles.js";
import { adminView } from "./views/admin.js";
import { chatView } from "./views/chat.js";
import { docsView } from "./views/docs.js";
import { signinView } from "./views/signin.js";

const root = document.getElementById("app");
let me = null;
let cleanup = null;

const ROUTES = [
  [/^\/signin$/, signinView, false],
  [/^\/(?:chat)?$/, chatView, true],
  [/^\/chat\/([A-Za-z0-9_-]{1,64})$/, chatView, true],
  [/^\/admin(?:\/([a-z][a-z-]{0,31}))?$/, adminView, true],
  [/^\/docs$/, docsView, true],
];

export function navigate(path, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  route();
}

function navLink(path, text, current) {
  return h("a", { href: path, "data-nav": "", "aria-current": current ? "page" : null }, text);
}

function shell(path) {
  const identity = me.identity;
  const main = h("main", { id: "main", tabindex: "-1" });
  const languageSelect = h(
    "select",
    { id: "language", "aria-label": t("shell.language"), onChange: (event) => setLanguage(event.target.value) },
    h("option", { value: "en", selected: language() === "en" }, "English"),
    h("option", { value: "vi", selected: language() === "vi" }, "Tiếng Việt"),
  );
  const header = h(
    "header",
    { class: "topbar" },
    h("a", { class: "brand", href: "/", "data-nav": "" }, h("img", { src: "/console/static/img/icon.svg", alt: "", width: 24, height: 24 }), "agentmesh"),
    h(
      "nav",
      { "aria-label": t("shell.navigation") },
      me.tenant_exists ? navLink("/chat", t("shell.chat"), path === "/" || path.startsWith("/chat")) : null,
      isAdmin(identity) ? navLink("/admin", t("shell.admin"), path.startsWith("/admin")) : null,
      navLink("/docs", t("shell.docs"), path === "/docs"),
    ),
    h(
      "div",
      { class: "account" },
      languageSelect,
      h(
        "span",
        { class: "who", "data-user": identity.subject, "data-tenant": identity.tenant_id },
        h("strong", null, identity.subject),
        ` · ${identity.tenant_id} · ${identity.roles.map((role) => t(`role.${role}`)).join(", ")}`,
      ),
      h(
        "button",
        {
          type: "button",
          class: "ghost",
          id: "sign-out",
          onClick: async () => {
            await signOut();
            me = await session();
            navigate("/signin");
          },
        },
        t("shell.signOut"),
      ),
    ),
  );
  replace(root, h("a", { class: "skip-link", href: "#main" }, t("shell.skip")), header, main);
  return main;
}

async function route() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const path = window.location.pathname;
  const params = new URLSearchParams(window.location.search);
  if (!me.signed_in && path !== "/signin") {
    navigate(`/signin?return_to=${encodeURIComponent(path + window.location.search)}`, { replaceState: true });
    return;
  }
  if (me.signed_in && path === "/signin") {
    navigate(params.get("return_to") || "/", { replaceState: true });
    return;
  }
  const found = ROUTES.map(([pattern, view, framed]) => [path.match(pattern), view, framed]).find(([match]) => match);
  const context = {
    me,
    params,
    navigate,
    async refreshSession() {
      me = await session();
      return me;
    },
  };
  if (!found) {
    const main = shell(path);
    replace(main, h("section", { class: "page" }, h("h1", null, t("shell.notFound")), h("p", null, h("a", { href: "/", "data-nav": "" }, t("shell.home")))));
    return;
  }
  const [match, view, framed] = found;
  const target = framed ? shell(path) : root;
  if (!framed) replace(root);
  root.setAttribute("aria-busy", "false");
  cleanup = (await view(target, match.slice(1), context)) || null;
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-nav]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href, window.location.origin);
  if (url.origin !== window.location.origin) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", () => route());
onLanguageChange(() => route());
whenSignedOut(async () => {
  me = await session();
  navigate("/signin");
});

async function start() {
  try {
    me = await session();
  } catch (error) {
    replace(root, h("p", { class: "error", role: "alert" }, `${t("shell.unreachable")} (${error.message})`));
    return;
  }
  await route();
}

start();
