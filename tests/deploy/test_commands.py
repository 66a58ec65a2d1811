"""Every command the compose file and the rendered Kubernetes manifests run is a valid `agentmesh`
command (the datastores' own images are left out)."""

from __future__ import annotations

import pytest

from agentmesh.cli import build_parser
from tests.deploy.manifests import compose, containers, render, workloads


def _compose_commands() -> list[tuple[str, list[str]]]:
    return [
        (f"compose:{name}", service["command"])
        for name, service in compose()["services"].items()
        if service.get("image", "").startswith("agentmesh:")
    ]


def _kubernetes_commands() -> list[tuple[str, list[str]]]:
    return [
        (f"{workload['metadata']['name']}:{container['name']}", container["args"])
        for workload in workloads(render("overlays/in-cluster"))
        for container in containers(workload)
        if container["image"].startswith("agentmesh:")
    ]


@pytest.mark.parametrize(("where", "args"), _compose_commands(), ids=[w for w, _ in _compose_commands()])
def test_compose_command_parses(where: str, args: list[str]) -> None:
    parsed = build_parser().parse_args(args)
    assert callable(parsed.handler), where


def test_kubernetes_commands_parse() -> None:
    commands = _kubernetes_commands()
    assert len(commands) == 7  # gateway + its migration, four servers, the demo ERP
    for where, args in commands:
        parsed = build_parser().parse_args(args)
        assert callable(parsed.handler), where
