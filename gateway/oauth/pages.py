"""The pages a person sees while an MCP client asks for access: sign in, consent, or why not.

Server-rendered HTML, in English or Vietnamese (the request's `ui_locales`, else its
`Accept-Language`), styled by the console's own style sheet and served with the console's
security headers: no script at all, and forms may post only to this site, plus, on the consent
page, to the client's redirect URI, where approving or denying sends the browser.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse

from gateway.console.assets import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

Language = Literal["en", "vi"]

STRINGS: Mapping[Language, Mapping[str, str]] = {
    "en": {
        "title_signin": "Sign in to connect an app",
        "signin_lead": "{client} wants to use agentmesh on your behalf. Sign in first.",
        "signin_as": "Demo user",
        "signin_button": "Sign in",
        "title_consent": "Allow {client} to use agentmesh?",
        "consent_lead": "Signed in as {user} of tenant {tenant}.",
        "client": "Application",
        "client_id": "Client ID",
        "redirect": "Returns to",
        "tenant": "Tenant",
        "scopes": "It will be able to",
        "approve": "Approve",
        "deny": "Deny",
        "consent_note": "It acts as you, within your tenant's policy; "
        "you can revoke it by signing out of the app.",
        "title_error": "This request cannot be completed",
        "title_unavailable": "Sign-in is not available here",
        "unavailable": "Sign in to the console on this gateway first, then come back to this page.",
        "no_tenant": "Tenant {tenant} has no MCP endpoint on this gateway.",
        "expired": "This page expired or was sent from elsewhere. Start again from the app.",
        "scope_mcp": "Use the tools, resources and prompts your tenant's policy allows you, as you",
    },
    "vi": {
        "title_signin": "Đăng nhập để kết nối ứng dụng",
        "signin_lead": "{client} muốn dùng agentmesh thay mặt bạn. Hãy đăng nhập trước.",
        "signin_as": "Người dùng mẫu",
        "signin_button": "Đăng nhập",
        "title_consent": "Cho phép {client} dùng agentmesh?",
        "consent_lead": "Đang đăng nhập với tư cách {user} thuộc tenant {tenant}.",
        "client": "Ứng dụng",
        "client_id": "Mã ứng dụng",
        "redirect": "Quay về",
        "tenant": "Tenant",
        "scopes": "Ứng dụng sẽ có thể",
        "approve": "Cho phép",
        "deny": "Từ chối",
        "consent_note": "Ứng dụng hành động thay bạn, trong phạm vi chính sách của tenant; "
        "đăng xuất khỏi ứng dụng để thu hồi quyền.",
        "title_error": "Không thể hoàn tất yêu cầu này",
        "title_unavailable": "Không thể đăng nhập tại đây",
        "unavailable": "Hãy đăng nhập vào console của gateway này trước, rồi quay lại trang này.",
        "no_tenant": "Tenant {tenant} không có MCP endpoint trên gateway này.",
        "expired": "Trang đã hết hạn hoặc được gửi từ nơi khác. Hãy bắt đầu lại từ ứng dụng.",
        "scope_mcp": "Dùng các công cụ, tài nguyên và prompt mà chính sách của tenant cho phép bạn, "
        "với tư cách của bạn",
    },
}


def language(ui_locales: str | None, accept_language: str | None) -> Language:
    """Vietnamese when the client or the browser asks for it first, else English."""
    for preference in ((ui_locales or "").split() + (accept_language or "").split(","))[:8]:
        tag = preference.split(";")[0].strip().lower()
        if tag.startswith("vi"):
            return "vi"
        if tag.startswith("en"):
            return "en"
    return "en"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _form_origin(redirect_uri: str) -> str:
    """The CSP source that lets the consent form's answer reach the client's redirect URI."""
    parts = urlsplit(redirect_uri)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:"


def _headers(form_to: str | None) -> dict[str, str]:
    csp = CONTENT_SECURITY_POLICY
    if form_to is not None:
        csp = csp.replace("form-action 'self'", f"form-action 'self' {_form_origin(form_to)}")
    return {**SECURITY_HEADERS, "Content-Security-Policy": csp, "Cache-Control": "no-store"}


def _document(lang: Language, title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · agentmesh</title>"
        '<link rel="stylesheet" href="/console/static/css/app.css"></head>'
        f'<body><main class="signin"><div class="signin-card"><h1>{_e(title)}</h1>{body}</div></main>'
        "</body></html>"
    )


@dataclass(frozen=True)
class DemoChoice:
    id: str
    label: str


def signin_page(
    lang: Language, *, client: str, action: str, csrf: str, users: Sequence[DemoChoice]
) -> HTMLResponse:
    t = STRINGS[lang]
    options = "".join(f'<option value="{_e(user.id)}">{_e(user.label)}</option>' for user in users)
    body = (
        f"<p>{_e(t['signin_lead'].format(client=client))}</p>"
        f'<form method="post" action="{_e(action)}">'
        f'<input type="hidden" name="csrf_token" value="{_e(csrf)}">'
        f'<p><label for="user">{_e(t["signin_as"])}</label> '
        f'<select id="user" name="user">{options}</select></p>'
        f'<p><button class="primary" type="submit">{_e(t["signin_button"])}</button></p></form>'
    )
    return HTMLResponse(_document(lang, t["title_signin"], body), headers=_headers(None))


def consent_page(
    lang: Language,
    *,
    client: str,
    client_id: str,
    redirect_uri: str,
    tenant: str,
    user: str,
    scopes: Sequence[str],
    action: str,
    csrf: str,
) -> HTMLResponse:
    t = STRINGS[lang]
    scope_items = "".join(f"<li>{_e(t.get('scope_' + scope, scope))}</li>" for scope in scopes)
    rows = [
        (t["client"], client),
        (t["client_id"], client_id),
        (t["redirect"], redirect_uri),
        (t["tenant"], tenant),
    ]
    details = "".join(f"<dt>{_e(name)}</dt><dd><code>{_e(value)}</code></dd>" for name, value in rows)
    body = (
        f"<p>{_e(t['consent_lead'].format(user=user, tenant=tenant))}</p>"
        f'<dl class="card">{details}</dl>'
        f"<h2>{_e(t['scopes'])}</h2><ul>{scope_items}</ul>"
        f"<p>{_e(t['consent_note'])}</p>"
        f'<form method="post" action="{_e(action)}">'
        f'<input type="hidden" name="csrf_token" value="{_e(csrf)}">'
        '<p><button class="primary" type="submit" name="decision" value="approve">'
        f"{_e(t['approve'])}</button> "
        f'<button type="submit" name="decision" value="deny">{_e(t["deny"])}</button></p></form>'
    )
    return HTMLResponse(
        _document(lang, t["title_consent"].format(client=client), body), headers=_headers(redirect_uri)
    )


def message_page(lang: Language, title_key: str, message: str, status: int) -> HTMLResponse:
    t = STRINGS[lang]
    body = f"<p>{_e(message)}</p>"
    return HTMLResponse(_document(lang, t[title_key], body), status_code=status, headers=_headers(None))
