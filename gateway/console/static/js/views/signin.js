// The sign-in page: a demo user (development key pair), or the identity provider.

import { signInDev } from "../auth.js";
import { h, replace } from "../dom.js";
import { language, setLanguage, t, tOr } from "../i18n.js";

const DEMO_ORDER = ["acme-user", "acme-admin", "globex-user", "platform-admin"];

export async function signinView(root, _params, context) {
  const { me, params } = context;
  const returnTo = params.get("return_to") || "/";
  const safeReturn = returnTo.startsWith("/") && !returnTo.startsWith("//") ? returnTo : "/";
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const error = params.get("error");

  async function pick(user) {
    status.textContent = t("signin.signingIn");
    try {
      await signInDev(user);
      await context.refreshSession();
      context.navigate(safeReturn, { replaceState: true });
    } catch (failure) {
      status.textContent = failure.message;
      status.classList.add("error");
    }
  }

  const demo = me.dev_signin
    ? h(
        "section",
        { class: "signin-demo", "aria-labelledby": "demo-title" },
        h("h2", { id: "demo-title" }, t("signin.demoTitle")),
        h("p", { class: "muted" }, t("signin.demoHint")),
        h(
          "ul",
          { class: "demo-users" },
          [...me.demo_users]
            .sort((a, b) => DEMO_ORDER.indexOf(a.id) - DEMO_ORDER.indexOf(b.id))
            .map((user) =>
              h(
                "li",
                null,
                h(
                  "button",
                  { type: "button", class: "demo-user", "data-user": user.id, onClick: () => pick(user.id) },
                  h("strong", null, t(`signin.user.${user.id}`)),
                  h("span", { class: "muted" }, `${user.identity.subject} · ${user.identity.tenant_id} · ${user.identity.roles.map((r) => t(`role.${r}`)).join(", ")}`),
                ),
              ),
            ),
        ),
      )
    : null;

  const oidc = me.oidc
    ? h(
        "section",
        { class: "signin-oidc" },
        h("a", { class: "button primary", id: "oidc-signin", href: `/console/auth/oidc/start?return_to=${encodeURIComponent(safeReturn)}` }, t("signin.oidc")),
      )
    : null;

  replace(
    root,
    h(
      "main",
      { id: "main", class: "signin" },
      h(
        "div",
        { class: "signin-card" },
        h(
          "div",
          { class: "signin-head" },
          h("img", { src: "/console/static/img/icon.svg", alt: "", width: 40, height: 40 }),
          h("h1", null, t("signin.title")),
          h(
            "select",
            { "aria-label": t("shell.language"), onChange: (event) => setLanguage(event.target.value) },
            h("option", { value: "en", selected: language() === "en" }, "English"),
            h("option", { value: "vi", selected: language() === "vi" }, "Tiếng Việt"),
          ),
        ),
        h("p", null, t("signin.intro")),
        error ? h("p", { class: "error", role: "alert" }, tOr(`signin.error.${error}`, t("signin.error.generic"))) : null,
        oidc,
        demo,
        !demo && !oidc ? h("p", { class: "error", role: "alert" }, t("signin.none")) : null,
        status,
      ),
    ),
  );
}
