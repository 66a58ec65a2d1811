"""The HTTP layer maps every platform error code to one status, in one table."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from agentmesh.errors import ERROR_CODES, AgentmeshError
from gateway.errors import EXCEPTION_HANDLERS, HTTP_STATUS, ApiError, error_response
from host.approvals import ApprovalAlreadyResolved
from mcp_servers.rag.errors import DocumentNotFound


def test_every_code_of_the_closed_set_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == ERROR_CODES
    assert all(400 <= status <= 599 for status in HTTP_STATUS.values())


def _app() -> Starlette:
    async def stored(request: Request) -> Response:
        raise ApprovalAlreadyResolved("approval 'a1' was already decided")

    async def relayed(request: Request) -> Response:
        raise DocumentNotFound("no document 'x' in this knowledge base", details={"document_id": "x"})

    async def limited(request: Request) -> Response:
        raise ApiError(
            "rate_limited", "slow down", details={"quota": "requests"}, headers={"Retry-After": "3"}
        )

    async def crashed(request: Request) -> Response:
        raise RuntimeError("db password is hunter2")

    return Starlette(
        routes=[Route(f"/{f.__name__}", f) for f in (stored, relayed, limited, crashed)],
        exception_handlers=EXCEPTION_HANDLERS,
    )


def test_a_domain_error_a_route_lets_through_answers_with_its_codes_status() -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    stored = client.get("/stored")
    assert stored.status_code == 409
    assert stored.json() == {
        "error": {
            "code": "approval_already_resolved",
            "message": "approval 'a1' was already decided",
            "details": None,
            "type": "invalid_request_error",
            "param": None,
        }
    }
    relayed = client.get("/relayed")
    assert relayed.status_code == 404 and relayed.json()["error"]["details"] == {"document_id": "x"}
    limited = client.get("/limited")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    crashed = client.get("/crashed")
    assert crashed.status_code == 500 and crashed.json()["error"]["code"] == "internal_error"
    assert "hunter2" not in crashed.text


def test_an_api_error_takes_its_status_from_the_table() -> None:
    assert ApiError("too_large", "request body exceeds 10 bytes").status == 413
    assert isinstance(ApiError("unauthorized", "no token"), AgentmeshError)


def test_an_error_names_its_class_as_openai_does_and_the_one_field_at_fault() -> None:
    """OpenAI SDKs read `type` and `param` from every error body."""
    one_field = error_response(400, "invalid_request", "bad", [{"field": "messages", "problem": "empty"}])
    assert json.loads(one_field.body)["error"] == {
        "code": "invalid_request",
        "message": "bad",
        "details": [{"field": "messages", "problem": "empty"}],
        "type": "invalid_request_error",
        "param": "messages",
    }
    limited = json.loads(error_response(429, "rate_limited", "slow down").body)["error"]
    assert limited["type"] == "rate_limit_error" and limited["param"] is None
    assert (
        json.loads(error_response(503, "backend_unavailable", "down").body)["error"]["type"] == "server_error"
    )
