"""Explaining decisions without running anything: which agent would answer (routing), and what
the policy decides for a call (the same decision as `agentmesh policy check`)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.gateway.mesh import DEBT_QUESTION, Mesh

pytestmark = pytest.mark.slow

ORDER_ARGUMENTS = {"mst": "3428557611", "items": [{"sku": "ACM-0001", "quantity": 2}]}


def admin(mesh: Mesh, tenant: str = "acme", user: str = "ada", role: str = "tenant_admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {mesh.token(tenant, user, [role])}"}


def post(mesh: Mesh, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{mesh.url}{path}", json=body, headers=headers, timeout=60)


def test_routing_names_the_agent_its_confidence_and_every_candidate(mesh: Mesh) -> None:
    response = post(mesh, "/api/admin/tenants/acme/routing/explain", {"message": DEBT_QUESTION}, admin(mesh))
    assert response.status_code == 200, response.text
    decision = response.json()
    assert decision["agent"] == "debt" and decision["reason"] == "confident" and not decision["follow_up"]
    assert decision["candidates"][0] == {"agent": "debt", "score": decision["confidence"], "enabled": True}
    assert decision["answer"] is None and "debt" in decision["enabled_agents"]


def test_a_short_follow_up_stays_with_the_previous_agent(mesh: Mesh) -> None:
    # A bare tax code fits debt best (about 0.8) and shipment too (about 0.65, an order's customer):
    # after a shipment turn it stays there, however far apart the two scores.
    body = {"message": "and 0230369893?", "previous_agent": "shipment"}
    decision = post(mesh, "/api/admin/tenants/acme/routing/explain", body, admin(mesh)).json()
    assert decision["agent"] == "shipment" and decision["reason"] == "follow_up"
    assert decision["follow_up"] is True


def test_an_agent_the_tenant_lacks_is_explained_as_the_user_would_be_told(mesh: Mesh) -> None:
    body = {"message": "Where is shipment SH-2001?"}
    decision = post(
        mesh, "/api/admin/tenants/globex/routing/explain", body, admin(mesh, "globex", "gina")
    ).json()
    assert decision["agent"] is None and decision["reason"] == "agent_not_enabled"
    assert {"agent": "shipment", "enabled": False} in [
        {"agent": c["agent"], "enabled": c["enabled"]} for c in decision["candidates"]
    ]
    assert "not available" in decision["answer"]


def test_explaining_is_for_the_tenants_admins(mesh: Mesh) -> None:
    body = {"message": DEBT_QUESTION}
    user = post(mesh, "/api/admin/tenants/acme/routing/explain", body, mesh.headers("acme", "alice"))
    assert user.status_code == 403 and user.json()["error"]["code"] == "admin_required"
    other = post(mesh, "/api/admin/tenants/acme/routing/explain", body, admin(mesh, "globex", "gina"))
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden_tenant"
    bad = post(mesh, "/api/admin/tenants/acme/policy/check", {}, admin(mesh))
    assert bad.status_code == 400 and "say what to check" in bad.text


def cli_check(mesh: Mesh, *arguments: str) -> list[dict[str, Any]]:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentmesh.cli",
            "--data-dir",
            str(mesh.settings.data_dir),
            "policy",
            "check",
            "--json",
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode in (0, 1, 2), completed.stderr
    rows: list[dict[str, Any]] = json.loads(completed.stdout)
    return rows


@pytest.mark.parametrize(
    ("tenant", "question", "cli"),
    [
        (
            "acme",
            {"tool": "erp:create_order", "arguments": ORDER_ARGUMENTS, "agent": "debt"},
            ["--tool", "erp:create_order", "--args", json.dumps(ORDER_ARGUMENTS), "--agent", "debt"],
        ),
        (
            "globex",
            {"tool": "erp:create_order", "agent": "shipment"},
            ["--tool", "erp:create_order", "--agent", "shipment"],
        ),
        (
            "acme",
            {"model": "openai:gpt-4o-mini", "host": "wiki.acme.internal", "private": True},
            ["--model", "openai:gpt-4o-mini", "--host", "wiki.acme.internal", "--private"],
        ),
    ],
)
def test_the_explanation_is_the_decision_agentmesh_policy_check_makes(
    mesh: Mesh, tenant: str, question: dict[str, Any], cli: list[str]
) -> None:
    body = {**question, "user": "cli"}
    explained = post(mesh, f"/api/admin/tenants/{tenant}/policy/check", body, admin(mesh, tenant, "ada"))
    assert explained.status_code == 200, explained.text
    answers = [
        {key: decision[key] for key in ("check", "effect", "rule", "reason")}
        for decision in explained.json()["decisions"]
    ]
    expected = [
        {key: row[key] for key in ("check", "effect", "rule", "reason")}
        for row in cli_check(mesh, "--tenant", tenant, *cli)
    ]
    assert answers == expected


def test_the_overall_effect_is_the_strictest(mesh: Mesh) -> None:
    order = {"tool": "erp:create_order", "arguments": ORDER_ARGUMENTS}
    assert (
        post(mesh, "/api/admin/tenants/acme/policy/check", order, admin(mesh)).json()["effect"] == "approve"
    )
    too_many = {**order, "arguments": {**ORDER_ARGUMENTS, "items": [{"sku": "ACM-0001", "quantity": 1}] * 21}}
    denied = post(mesh, "/api/admin/tenants/acme/policy/check", too_many, admin(mesh)).json()
    assert denied["effect"] == "deny" and denied["decisions"][0]["rule"].startswith("acme:arguments")
