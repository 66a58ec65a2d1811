"""The core (settings, database, keys, tokens, redaction, logging, telemetry, the error vocabulary,
the outbound guard, upload references) imports nothing above it: every package builds on the core,
never the other way round."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

AGENTMESH = Path(__file__).resolve().parents[2] / "agentmesh"
CORE = (
    "settings",
    "db",
    "keys",
    "secrets",
    "mesh_tokens",
    "dev_tokens",
    "embeddings",
    "redaction",
    "span_redaction",
    "logging",
    "telemetry",
    "errors",
    "startup",
    "addresses",
    "outbound",
    "outbound_http",
    "uploads",
)
ABOVE = ("gateway", "host", "policies", "mcp_servers", "agentmesh.commands", "agentmesh.cli")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, wherever the import stands (top level, function, TYPE_CHECKING),
    including `importlib.import_module("...")` with a literal name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "agentmesh" if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.append((node.lineno, module))
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def is_above(module: str) -> bool:
    return any(module == above or module.startswith(f"{above}.") for above in ABOVE)


def is_core(module: str) -> bool:
    return module == "agentmesh" or any(
        module == f"agentmesh.{name}" or module.startswith(f"agentmesh.{name}.") for name in CORE
    )


def test_no_core_module_imports_a_package_above_it() -> None:
    offenders = [
        f"agentmesh/{name}.py:{line} imports {module}"
        for name in CORE
        for line, module in imported_modules(AGENTMESH / f"{name}.py")
        if is_above(module) or (module.startswith("agentmesh.") and not is_core(module))
    ]
    assert offenders == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from gateway.app import create_app\n"
        "def tables():\n    import host.tables\n    from . import commands\n"
        "def later():\n    return importlib.import_module('policies.loader')\n"
    )
    above = sorted(module for _, module in imported_modules(module) if is_above(module))
    assert above == [
        "agentmesh.commands",
        "gateway.app",
        "gateway.app.create_app",
        "host.tables",
        "policies.loader",
    ]


def test_importing_the_core_loads_nothing_above_it() -> None:
    modules = ", ".join(f"agentmesh.{name}" for name in CORE)
    script = f"import json, sys; import {modules}; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", script], capture_output=True, check=True).stdout
    )
    assert [module for module in loaded if is_above(module)] == []
