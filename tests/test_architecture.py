"""Who may import whom: the layers stay apart as the design says.

The gateway and the host use the MCP servers only through what each server publishes (its
`models` module) and what all servers share (`mcp_servers.common`); the platform's core
(`agentmesh.errors`) depends on none of them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = re.compile(r"^mcp_servers(\.common(\..+)?|\.[a-z_]+\.models)$")
LAYERS = ("gateway", "host", "policies", "mcp_servers")


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """Every module `path` imports, at any depth of its code (lazy imports included)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def server_imports(package: str) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, module in imports_of(path)
        if module.split(".")[0] == "mcp_servers" and not PUBLISHED.match(module)
    ]


@pytest.mark.parametrize("package", ["gateway", "host"])
def test_the_gateway_and_host_use_only_what_the_servers_publish(package: str) -> None:
    assert server_imports(package) == []


def test_the_rule_sees_an_import_of_a_servers_internals(tmp_path: Path) -> None:
    module = tmp_path / "route.py"
    module.write_text(
        "from mcp_servers.rag.models import DocumentList\n"
        "from mcp_servers.common.errors import ERROR_META_KEY\n"
        "def handler():\n    from mcp_servers.rag.server import build_server\n"
    )
    found = [name for _, name in imports_of(module) if not PUBLISHED.match(name)]
    assert found == ["mcp_servers.rag.server"]


def test_the_error_vocabulary_depends_on_no_layer() -> None:
    imported = {name.split(".")[0] for _, name in imports_of(ROOT / "agentmesh" / "errors.py")}
    assert imported.isdisjoint(LAYERS)
