"""Network rules: per-tenant host globs read from a file, deny winning over allow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from mcp_servers.search.errors import NetworkRulesUnavailable
from mcp_servers.search.network_rules import NetworkRules, NetworkRulesFile


def test_globs_match_host_names_case_insensitively() -> None:
    rules = NetworkRules(allowed_hosts=("*.Acme.Internal", "127.0.0.1"))
    assert rules.allowance("wiki.acme.internal") == "*.acme.internal"
    assert rules.allowance("WIKI.ACME.INTERNAL.") == "*.acme.internal"
    assert rules.allowance("127.0.0.1") == "127.0.0.1"
    assert rules.allowance("acme.internal.evil.com") is None


def test_deny_wins_over_allow() -> None:
    rules = NetworkRules(allowed_hosts=("*.acme.internal",), denied_hosts=("payroll.acme.internal",))
    assert rules.denial("payroll.acme.internal") == "payroll.acme.internal"
    assert rules.allowance("payroll.acme.internal") is None
    assert rules.allowance("wiki.acme.internal") == "*.acme.internal"


def test_empty_patterns_are_rejected() -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        NetworkRules(allowed_hosts=("  ",))


def test_without_a_file_every_tenant_gets_public_internet_only() -> None:
    assert NetworkRulesFile(None).network_rules_for("acme") == NetworkRules()


def test_rules_come_from_the_file_per_tenant(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "tenants:\n  acme:\n    allowed_hosts: ['127.0.0.1']\n    denied_hosts: ['*.example.org']\n"
    )
    source = NetworkRulesFile(path)
    assert source.network_rules_for("acme") == NetworkRules(
        allowed_hosts=("127.0.0.1",), denied_hosts=("*.example.org",)
    )
    assert source.network_rules_for("globex") == NetworkRules()


def test_json_files_are_read_too(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text('{"tenants": {"acme": {"allowed_hosts": ["intranet.acme.test"]}}}')
    assert NetworkRulesFile(path).network_rules_for("acme").allowed_hosts == ("intranet.acme.test",)


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("tenants: {acme: {allowed_hosts: ['a.test']}}\n")
    source = NetworkRulesFile(path)
    assert source.network_rules_for("acme").allowed_hosts == ("a.test",)
    path.write_text("tenants: {acme: {allowed_hosts: ['b.test', 'c.test']}}\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert source.network_rules_for("acme").allowed_hosts == ("b.test", "c.test")


def test_an_invalid_file_fails_closed_naming_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("tenants:\n  acme:\n    allowed_host: ['typo']\n")
    with pytest.raises(
        NetworkRulesUnavailable, match=r"tenants\.acme\.allowed_host: Extra inputs are not permitted"
    ):
        NetworkRulesFile(path).network_rules_for("acme")


def test_a_missing_file_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(NetworkRulesUnavailable, match="cannot be read"):
        NetworkRulesFile(tmp_path / "absent.yaml").network_rules_for("acme")


def test_broken_yaml_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("tenants: [unclosed\n")
    with pytest.raises(NetworkRulesUnavailable, match="cannot be parsed"):
        NetworkRulesFile(path).network_rules_for("acme")
