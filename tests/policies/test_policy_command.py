"""`agentmesh policy check` explains a decision and says it in its exit status; `show` prints the
policy in force. Both read the overrides an admin set in the platform database."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentmesh.cli import main
from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.settings import Settings
from policies.audit import AuditLog
from policies.model import TenantPolicy, ToolRules
from policies.overrides import PolicyOverrideStore


def check(data_dir: Path, *args: str) -> int:
    return main(["--data-dir", str(data_dir), "policy", "check", *args])


def test_an_allowed_call_exits_0_with_its_rule(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = check(
        data_dir,
        "--tenant",
        "acme",
        "--tool",
        "erp:get_customer_debt",
        "--read-only",
        "--args",
        '{"mst": "3428557611"}',
    )
    out = capsys.readouterr().out
    assert status == 0
    assert out.splitlines() == [
        "tool erp:get_customer_debt for acme: allow",
        "  rule:   acme:tools.allow[erp:*]",
        "  reason: 'erp:get_customer_debt' is allowed by rule 'erp:*' of acme's policy",
    ]


def test_a_denied_call_exits_1(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(data_dir, "--tenant", "globex", "--tool", "erp:create_order") == 1
    assert "rule:   globex:tools.deny[erp:create_order]" in capsys.readouterr().out


def test_a_call_needing_approval_exits_2(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    order = '{"mst": "3428557611", "items": [{"sku": "ACM-0001", "quantity": 2}]}'
    assert check(data_dir, "--tenant", "acme", "--tool", "erp:create_order", "--args", order) == 2
    assert "acme: approve" in capsys.readouterr().out


def test_arguments_breaking_a_constraint_are_explained(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    order = '{"mst": "3428557611", "items": [{"sku": "ACM-0001", "quantity": 50000}]}'
    assert check(data_dir, "--tenant", "acme", "--tool", "erp:create_order", "--args", order) == 1
    out = capsys.readouterr().out
    assert "rule:   base:arguments[erp:create_order]" in out
    assert "$.items[0].quantity: 50000 is greater than the maximum of 10000" in out


def test_the_worst_of_several_checks_decides_the_exit_status(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = check(
        data_dir, "--tenant", "globex", "--agent", "shipment", "--tool", "rag:search", "--read-only", "--json"
    )
    rows = json.loads(capsys.readouterr().out)
    assert status == 1
    assert [(row["check"], row["effect"]) for row in rows] == [
        ("agent shipment", "deny"),
        ("tool rag:search", "allow"),
    ]


def test_hosts_and_models_can_be_checked(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(data_dir, "--tenant", "acme", "--host", "wiki.acme.internal", "--private") == 0
    assert check(data_dir, "--tenant", "globex", "--host", "wiki.acme.internal", "--private") == 1
    assert check(data_dir, "--tenant", "globex", "--model", "openai:gpt-4o-mini") == 0
    assert check(data_dir, "--tenant", "globex", "--model", "openai:gpt-4o") == 1
    capsys.readouterr()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "acme", "--tool", "erp:x", "--args", "{nope"], "--args is not valid JSON: Expecting"),
        (["--tenant", "acme", "--tool", "erp:x", "--args", "[1]"], "--args must be a JSON object, not list"),
        (["--tenant", "acme", "--args", "{}"], "--args needs --tool"),
        (["--tenant", "acme"], "say what to check: --tool, --agent, --model or --host"),
    ],
)
def test_usage_errors_exit_3_with_a_message(
    data_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert check(data_dir, *args) == 3
    assert message in capsys.readouterr().err


def test_unknown_and_missing_options_exit_3_not_2(data_dir: Path) -> None:
    for args in (["--tenant", "acme", "--tool", "erp:x", "--bogus"], ["--tool", "erp:x"]):
        with pytest.raises(SystemExit) as exited:
            check(data_dir, *args)
        assert exited.value.code == 3


def test_check_sees_the_overrides_in_the_database(
    settings: Settings, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def override() -> None:
        engine = create_engine(settings.resolved_database_url)
        await upgrade_database(engine)
        store = PolicyOverrideStore(session_factory(engine))
        await store.put(
            "acme", TenantPolicy(tenant="acme", tools=ToolRules(deny=("erp:get_*",))), changed_by="root"
        )
        assert len(await AuditLog(session_factory(engine)).for_tenant("acme")) == 1
        await engine.dispose()

    asyncio.run(override())
    assert check(data_dir, "--tenant", "acme", "--tool", "erp:get_customer_debt", "--read-only") == 1
    assert "rule:   acme:tools.deny[erp:get_*]" in capsys.readouterr().out


def test_show_prints_the_documents_and_limits_in_force(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(data_dir), "policy", "show", "--tenant", "globex"]) == 0
    out = capsys.readouterr().out
    assert "tenant: globex" in out and "tenant: '*'" in out
    assert "# limits in force\nrequests_per_minute: 60\n" in out


def test_the_installed_command_runs(data_dir: Path) -> None:
    command = [sys.executable, "-m", "agentmesh.cli", "--data-dir", str(data_dir), "policy", "check"]
    done = subprocess.run(
        [*command, "--tenant", "acme", "--tool", "erp:create_order"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "base:tools.approve[erp:create_order]" in done.stdout


def test_a_tool_that_changes_data_is_for_admins_unless_granted_to_users(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(data_dir, "--tenant", "acme", "--tool", "rag:ingest_text") == 1
    out = capsys.readouterr().out
    assert "rule:   roles:writes-need-admin" in out and "tenant_admin" in out
    assert check(data_dir, "--tenant", "acme", "--tool", "rag:ingest_text", "--role", "tenant_admin") == 0
    capsys.readouterr()
    # acme's policy names create_order in tools.users: its staff may order (each order approved).
    assert check(data_dir, "--tenant", "acme", "--tool", "erp:create_order") == 2
