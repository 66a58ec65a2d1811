"""An attempt on acme's data: who tries it, through which channel, what it sends, and the refusal
it must meet. The tables of attempts live in the test modules; this is their shared shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.isolation.acme_data import AcmeData
from tests.isolation.acme_state import snapshot
from tests.isolation.attackers import ATTACKERS
from tests.isolation.channels import McpAnswer, call_tool
from tests.isolation.leaks import leaked, sent_text
from tests.support.whole_mesh import WholeMesh

FORBIDDEN_TENANT = (403, "forbidden_tenant")
ADMIN_REQUIRED = (403, "admin_required")
PLATFORM_ADMIN_REQUIRED = (403, "platform_admin_required")
POLICY_DENIED = (403, "denied")
SESSION_NOT_FOUND = (404, "session_not_found")
ANSWERED = (200, None)
"""A 2xx answer about the attacker's own tenant: its whole body is scanned for acme's data."""


@dataclass(frozen=True)
class HttpAttempt:
    """One request to the gateway by one attacker, and the answer it must get."""

    store: str
    action: str
    attacker: str
    method: str
    path: str
    expected: tuple[int, str | None]
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    guards: tuple[str, ...] = ()
    """Acme stores (see `acme_state.STORES`) that must read the same after the attempt."""
    channel: str = "http"
    echoes_own_messages: bool = False
    """The answer may quote the attacker's own earlier messages (a session list's titles): those
    reveal nothing they did not type themselves."""

    @property
    def id(self) -> str:
        return f"{self.store}-{self.action}-{self.channel}-{self.attacker}"


def by_globex(
    store: str,
    action: str,
    method: str,
    path: str,
    *,
    user: tuple[int, str | None],
    admin: tuple[int, str | None],
    **options: Any,
) -> list[HttpAttempt]:
    """The same attempt by a globex user and by a globex tenant admin, each with its refusal."""
    return [
        HttpAttempt(store, action, "globex_user", method, path, user, **options),
        HttpAttempt(store, action, "globex_admin", method, path, admin, **options),
    ]


def fill(value: Any, fields: Mapping[str, str]) -> Any:
    """`value` with every `{name}` of `fields` replaced (other braces, like `{mst}`, stay as they are)."""
    if isinstance(value, str):
        for name, replacement in fields.items():
            value = value.replace(f"{{{name}}}", replacement)
        return value
    if isinstance(value, dict):
        return {key: fill(item, fields) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, fields) for item in value]
    return value


def attempt_over_http(mesh: WholeMesh, acme: AcmeData, attempt: HttpAttempt) -> httpx.Response:
    """Make the attempt; check its refusal, that nothing of acme's is in the answer, and that the
    guarded stores of acme read the same afterwards. Returns the answer for further checks."""
    path, body = fill(attempt.path, acme.fields()), fill(attempt.body, acme.fields())
    before = snapshot(mesh, acme, attempt.guards)
    headers = {**mesh.headers(*ATTACKERS[attempt.attacker]), **attempt.headers}
    response = mesh.request(attempt.method, path, headers, body)

    status, code = attempt.expected
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error"]["code"] == code, response.text
    own = own_messages(mesh, headers, path) if attempt.echoes_own_messages else []
    assert leaked(response.text, acme.secrets, sent=sent_text(path, body, *own)) == [], response.text
    assert snapshot(mesh, acme, attempt.guards) == before
    return response


def own_messages(mesh: WholeMesh, headers: Mapping[str, str], sessions_path: str) -> list[str]:
    """What the caller typed in each of their sessions (their messages only, never an answer)."""
    listed = mesh.request("GET", sessions_path, dict(headers)).json()["items"]
    return [
        message["content"]
        for item in listed
        for message in mesh.request("GET", f"{sessions_path}/{item['session_id']}", dict(headers)).json()[
            "messages"
        ]
        if message["role"] == "user"
    ]


@dataclass(frozen=True)
class McpAttempt:
    """One `tools/call` by one attacker, and the error code it must end in (None: a plain answer)."""

    store: str
    action: str
    attacker: str
    tool: str
    arguments: dict[str, Any]
    error_code: str | None
    guards: tuple[str, ...] = ()
    channel: str = "mcp"

    @property
    def id(self) -> str:
        return f"{self.store}-{self.action}-{self.channel}-{self.attacker}"


def mcp_by_globex(
    store: str, action: str, tool: str, arguments: dict[str, Any], error_code: str | None, **options: Any
) -> list[McpAttempt]:
    """The same call by a globex user and by a globex tenant admin."""
    return [
        McpAttempt(store, action, attacker, tool, arguments, error_code, **options)
        for attacker in ("globex_user", "globex_admin")
    ]


def attempt_over_mcp(mesh: WholeMesh, acme: AcmeData, url: str, token: str, attempt: McpAttempt) -> McpAnswer:
    """Make the call at `url` with `token`; check the error code, that nothing of acme's is in the
    result, and that the guarded stores of acme read the same afterwards."""
    tool, arguments = fill(attempt.tool, acme.fields()), fill(attempt.arguments, acme.fields())
    before = snapshot(mesh, acme, attempt.guards)
    answer = call_tool(url, token, tool, arguments)

    assert answer.is_error == (attempt.error_code is not None), answer.raw
    assert answer.error_code == attempt.error_code, answer.raw
    assert leaked(answer.raw, acme.secrets, sent=sent_text(tool, arguments)) == [], answer.raw
    assert snapshot(mesh, acme, attempt.guards) == before
    return answer
