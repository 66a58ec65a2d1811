"""Session history over HTTP: a user reads and deletes only their own sessions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, event

from tests.gateway.mesh import DEBT_QUESTION, Mesh

pytestmark = pytest.mark.slow


def get(mesh: Mesh, path: str, tenant: str = "acme", user: str = "alice") -> httpx.Response:
    return httpx.get(f"{mesh.url}{path}", headers=mesh.headers(tenant, user), timeout=30)


def delete(mesh: Mesh, path: str, tenant: str = "acme", user: str = "alice") -> httpx.Response:
    return httpx.delete(f"{mesh.url}{path}", headers=mesh.headers(tenant, user), timeout=30)


@pytest.fixture(scope="module")
def session_id(mesh: Mesh) -> str:
    first = mesh.chat(DEBT_QUESTION, user="sam")
    assert first.status_code == 200, first.text
    session = first.json()["session_id"]
    follow_up = mesh.chat("And what is its payment history?", user="sam", session_id=session)
    assert follow_up.status_code == 200, follow_up.text
    return str(session)


def test_history_lists_every_message_of_the_session_in_order(mesh: Mesh, session_id: str) -> None:
    response = get(mesh, f"/api/acme/sessions/{session_id}", user="sam")
    assert response.status_code == 200
    messages = response.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["content"] == DEBT_QUESTION
    assert messages[1]["agent"] == "debt"
    assert messages[1]["meta"]["tool_calls"][0]["tool"] == "get_customer_debt"


def test_the_follow_up_used_the_remembered_customer(mesh: Mesh, session_id: str) -> None:
    messages = get(mesh, f"/api/acme/sessions/{session_id}", user="sam").json()["messages"]
    calls = messages[3]["meta"]["tool_calls"]
    assert calls and calls[0]["arguments"].get("mst") == "3428557611"


def test_the_user_lists_their_sessions(mesh: Mesh, session_id: str) -> None:
    listed = get(mesh, "/api/acme/sessions", user="sam").json()["items"]
    assert [item["session_id"] for item in listed] == [session_id]
    assert listed[0]["messages"] == 4
    assert get(mesh, "/api/acme/sessions", user="other").json()["items"] == []


def test_another_user_of_the_tenant_cannot_read_continue_or_delete_it(mesh: Mesh, session_id: str) -> None:
    assert get(mesh, f"/api/acme/sessions/{session_id}", user="mallory").status_code == 404
    assert delete(mesh, f"/api/acme/sessions/{session_id}", user="mallory").status_code == 404
    hijack = mesh.chat("What is the debt for customer MST 3190048330?", user="mallory", session_id=session_id)
    assert hijack.status_code == 404
    assert hijack.json()["error"]["code"] == "session_not_found"
    assert len(get(mesh, f"/api/acme/sessions/{session_id}", user="sam").json()["messages"]) == 4


def test_another_tenant_cannot_reach_it(mesh: Mesh, session_id: str) -> None:
    assert get(mesh, f"/api/acme/sessions/{session_id}", tenant="globex", user="sam").status_code == 403
    assert get(mesh, f"/api/globex/sessions/{session_id}", tenant="globex", user="sam").status_code == 404


def test_a_malformed_session_id_is_refused_by_the_path_schema(mesh: Mesh) -> None:
    response = get(mesh, "/api/acme/sessions/not%20a%20session", user="sam")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_path" and [d["field"] for d in error["details"]] == ["session_id"]


def test_deleting_removes_the_session_for_good(mesh: Mesh) -> None:
    created = mesh.chat(DEBT_QUESTION, user="dana").json()["session_id"]
    assert delete(mesh, f"/api/acme/sessions/{created}", user="dana").status_code == 204
    assert get(mesh, f"/api/acme/sessions/{created}", user="dana").status_code == 404
    assert delete(mesh, f"/api/acme/sessions/{created}", user="dana").status_code == 404


GATEWAY_TABLES = ("chat_sessions", "chat_messages", "usage_records")


def test_a_turn_is_written_in_one_database_transaction(mesh: Mesh, session_id: str) -> None:
    engine = mesh.state.engine.sync_engine
    open_transactions: dict[int, list[str]] = {}
    committed: list[list[str]] = []

    def on_execute(connection: Connection, cursor: Any, statement: str, *args: Any) -> None:
        open_transactions.setdefault(id(connection), []).append(statement)

    def on_commit(connection: Connection) -> None:
        committed.append(open_transactions.pop(id(connection), []))

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        response = mesh.chat("Which customers are overdue?", user="sam", session_id=session_id)
        assert response.status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)

    def writes(statements: list[str]) -> set[str]:
        return {
            table
            for statement in statements
            if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
            for table in GATEWAY_TABLES
            if f" {table} " in f" {statement} ".replace("(", " ")
        }

    gateway_writes = [writes(statements) for statements in committed if writes(statements)]
    assert gateway_writes == [set(GATEWAY_TABLES)], "transcript, session and usage in one transaction"
