"""Every command the compose file and the Kubernetes manifests run is a valid `agentmesh` command."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agentmesh.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _commands() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        if "command" in service:
            found.append((f"compose:{name}", service["command"]))
    for manifest in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(manifest.read_text()):
            if document and document.get("kind") == "Deployment":
                spec = document["spec"]["template"]["spec"]
                for container in spec.get("initContainers", []) + spec["containers"]:
                    found.append((f"{manifest.name}:{container['name']}", container["args"]))
    return found


@pytest.mark.parametrize(("where", "args"), _commands(), ids=[w for w, _ in _commands()])
def test_deployed_command_parses(where: str, args: list[str]) -> None:
    parsed = build_parser().parse_args(args)
    assert callable(parsed.handler), where
