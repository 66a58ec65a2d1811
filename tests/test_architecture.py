"""Who may import whom: the layers stay apart as the design says.

Layers import only downward (core, policies, the servers, the host, the gateway, the command
line on top), no module imports itself back at run time (a cycle through imports only type
checkers follow is allowed), the gateway and the host use the MCP servers only through what each
server publishes (its `models` module) and what all servers share (`mcp_servers.common`), and
the platform's core (`agentmesh.errors`) depends on none of them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import grimp
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


LAYER_MAY_IMPORT: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "policies": frozenset({"core", "policies"}),
    "mcp_servers.common": frozenset({"core", "mcp_servers.common"}),
    "mcp_servers.domain": frozenset({"core", "policies", "mcp_servers.common", "mcp_servers.domain"}),
    "host": frozenset({"core", "policies", "mcp_servers.common", "mcp_servers.domain", "host"}),
    "gateway": frozenset({"core", "policies", "mcp_servers.common", "mcp_servers.domain", "host", "gateway"}),
}
"""Each layer and the layers below it. The command line, the process supervisor and the
migrations (the schema authority, which must see every table) sit on top and may import anything."""
TOP = (
    "agentmesh.cli",
    "agentmesh.commands",
    "agentmesh.children",
    "agentmesh.migrations",
    "agentmesh.__main__",
)


def layer_of(module: str) -> str | None:
    """The layer a module belongs to (None: the top, which may import anything)."""
    if module.startswith(TOP):
        return None
    package, _, rest = module.partition(".")
    if package == "agentmesh":
        return "core"
    if package == "mcp_servers":
        return "mcp_servers.common" if rest.startswith("common") else "mcp_servers.domain"
    return package


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    """The project's import graph, without imports that only type checkers follow."""
    return grimp.build_graph(*LAYERS, "agentmesh", exclude_type_checking_imports=True)


def test_layers_import_only_downward(graph: grimp.ImportGraph) -> None:
    upward = [
        f"{importer} -> {imported}"
        for importer in sorted(graph.modules)
        if (layer := layer_of(importer)) is not None
        for imported in sorted(graph.find_modules_directly_imported_by(importer))
        if layer_of(imported) not in LAYER_MAY_IMPORT[layer]
    ]
    assert upward == []


def test_no_module_imports_itself_back_at_run_time(graph: grimp.ImportGraph) -> None:
    cycles = [
        f"{module} <-> {other}"
        for module in sorted(graph.modules)
        for other in sorted(graph.find_modules_directly_imported_by(module))
        if module < other and graph.chain_exists(importer=other, imported=module)
    ]
    assert cycles == []
