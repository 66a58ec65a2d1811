"""Acme's sessions, transcripts and session windows stay alice's.

A globex user, a globex tenant admin and bob (another acme user) try to read alice's transcript,
list, delete and continue her session by its id (through the chat API, as JSON and as SSE). Each
is refused as if the session did not exist (or, on acme's paths, for the wrong tenant), nothing of
alice's shows, and her session reads the same afterwards. Last, alice's next turn still sees her
own window: the messages and the customer she asked about.
"""

from __future__ import annotations

import pytest

from tests.isolation.acme_data import ACME_MST, LLM_KEY, AcmeData
from tests.isolation.attackers import ALICE
from tests.isolation.attempts import (
    ANSWERED,
    FORBIDDEN_TENANT,
    SESSION_NOT_FOUND,
    HttpAttempt,
    attempt_over_http,
    by_globex,
)
from tests.support.fake_openai import FakeOpenAI
from tests.support.whole_mesh import WholeMesh

pytestmark = pytest.mark.slow

HISTORY = "/api/{tenant}/sessions/{session_id}"
CONTINUE = {"message": "and his payment history?", "session_id": "{session_id}"}
SESSION = ("session",)
"""The acme store every write attempt here must leave as it was."""


def _on(tenant: str, path: str) -> str:
    return path.replace("{tenant}", tenant)


def _continuing(*, stream: bool) -> list[HttpAttempt]:
    """Continuing alice's session by its id: as JSON, or as SSE."""
    channel = "sse" if stream else "chat"
    body = {**CONTINUE, "stream": True} if stream else CONTINUE
    headers = {"Accept": "text/event-stream"} if stream else {}
    return [
        *by_globex(
            "session",
            "continue_via_acme_path",
            "POST",
            "/api/acme/chat",
            user=FORBIDDEN_TENANT,
            admin=FORBIDDEN_TENANT,
            body=body,
            headers=headers,
            guards=SESSION,
            channel=channel,
        ),
        *by_globex(
            "session",
            "continue_by_id",
            "POST",
            "/api/globex/chat",
            user=SESSION_NOT_FOUND,
            admin=SESSION_NOT_FOUND,
            body=body,
            headers=headers,
            guards=SESSION,
            channel=channel,
        ),
        HttpAttempt(
            "session",
            "continue_by_id",
            "acme_user",
            "POST",
            "/api/acme/chat",
            SESSION_NOT_FOUND,
            body=body,
            headers=headers,
            guards=SESSION,
            channel=channel,
        ),
    ]


ATTEMPTS = [
    *by_globex(
        "transcript",
        "read_via_acme_path",
        "GET",
        _on("acme", HISTORY),
        user=FORBIDDEN_TENANT,
        admin=FORBIDDEN_TENANT,
    ),
    HttpAttempt("transcript", "read_by_id", "acme_user", "GET", _on("acme", HISTORY), SESSION_NOT_FOUND),
    *by_globex(
        "transcript",
        "read_by_id",
        "GET",
        _on("globex", HISTORY),
        user=SESSION_NOT_FOUND,
        admin=SESSION_NOT_FOUND,
    ),
    # A session is listed with its first message as title: the attacker's own words, typed by them.
    *by_globex(
        "session",
        "list_own",
        "GET",
        "/api/globex/sessions",
        user=ANSWERED,
        admin=ANSWERED,
        echoes_own_messages=True,
    ),
    HttpAttempt(
        "session", "list_own", "acme_user", "GET", "/api/acme/sessions", ANSWERED, echoes_own_messages=True
    ),
    *by_globex(
        "session",
        "delete_via_acme_path",
        "DELETE",
        _on("acme", HISTORY),
        user=FORBIDDEN_TENANT,
        admin=FORBIDDEN_TENANT,
        guards=SESSION,
    ),
    HttpAttempt(
        "session",
        "delete_by_id",
        "acme_user",
        "DELETE",
        _on("acme", HISTORY),
        SESSION_NOT_FOUND,
        guards=SESSION,
    ),
    *by_globex(
        "session",
        "delete_by_id",
        "DELETE",
        _on("globex", HISTORY),
        user=SESSION_NOT_FOUND,
        admin=SESSION_NOT_FOUND,
        guards=SESSION,
    ),
    *_continuing(stream=False),
    *_continuing(stream=True),
]


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=lambda attempt: attempt.id)
def test_another_user_cannot_reach_alices_session(
    mesh: WholeMesh, acme: AcmeData, attempt: HttpAttempt
) -> None:
    attempt_over_http(mesh, acme, attempt)


def test_alices_window_survives_every_attempt(mesh: WholeMesh, acme: AcmeData, llm: FakeOpenAI) -> None:
    seen = len(llm.received_with(LLM_KEY))
    reply = mesh.request(
        "POST", "/api/acme/chat", mesh.headers(*ALICE), {**CONTINUE, "session_id": acme.session_id}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["agent"] == "debt"

    # Acme's debt agent uses acme's LLM now: what it was sent is the window alice's turn read.
    step = llm.received_with(LLM_KEY)[seen]
    system, *conversation = step.messages
    assert f"mst={ACME_MST}" in system["content"]
    assert [m["content"] for m in conversation if m["role"] == "user"] == [
        f"What is the debt for MST {ACME_MST}?",
        CONTINUE["message"],
    ]
