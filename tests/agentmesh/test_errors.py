"""The platform's error vocabulary is closed: every code raised or reported anywhere is in it."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentmesh.errors import ERROR_CODES, AgentmeshError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["agentmesh", "gateway", "host", "policies", "mcp_servers"]
CODE_KEYWORDS = {"code", "error_code"}
"""Keyword arguments and attributes that carry an error code wherever they appear."""
CODE_POSITION = {"ApiError": 0, "ModelError": 0, "_failure": 0, "_error_result": 1}
"""Calls that take a code positionally, and where."""


def _modules() -> Iterator[str]:
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            # Alembic environments (`migrations`, `demo_migrations`) run only under Alembic.
            if not any(part.endswith("migrations") for part in info.name.split(".")):
                yield info.name


def _subclasses(cls: type[AgentmeshError]) -> Iterator[type[AgentmeshError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _literal_codes(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """String literals the source passes or assigns as an error code, with their line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in CODE_KEYWORDS and isinstance(keyword.value, ast.Constant):
                    yield node.lineno, keyword.value.value
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            position = CODE_POSITION.get(name)
            if position is not None and len(node.args) > position:
                argument = node.args[position]
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    yield node.lineno, argument.value
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            named = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
            if named in CODE_KEYWORDS and isinstance(value, ast.Constant) and isinstance(value.value, str):
                yield node.lineno, value.value


def test_every_error_class_of_the_platform_has_a_code_of_the_closed_set() -> None:
    for name in _modules():
        importlib.import_module(name)
    classes = list(_subclasses(AgentmeshError))
    assert len(classes) > 50  # the domains' errors were all found
    outside = {
        f"{cls.__module__}.{cls.__qualname__}": cls.code for cls in classes if cls.code not in ERROR_CODES
    }
    assert outside == {}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_code_written_in_the_source_is_in_the_closed_set(package: str) -> None:
    found = 0
    unknown = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, code in _literal_codes(ast.parse(path.read_text(encoding="utf-8"))):
            found += 1
            if code not in ERROR_CODES:
                unknown.append(f"{path.relative_to(ROOT)}:{line}: {code!r}")
    assert unknown == []
    if package in ("gateway", "host", "mcp_servers"):
        assert found > 10  # the scan does see the codes written there


def test_the_scan_catches_a_code_outside_the_set() -> None:
    source = 'raise ApiError("teapot", "short and stout")\nToolOutcome(error_code="spilled")\ncode = "x"\n'
    assert sorted(code for _, code in _literal_codes(ast.parse(source))) == ["spilled", "teapot", "x"]


def test_an_error_carries_its_message_details_and_retryability() -> None:
    error = AgentmeshError("the ERP did not answer", code="timeout", details={"seconds": 5}, retryable=True)
    assert (error.code, str(error), error.details, error.retryable) == (
        "timeout",
        "the ERP did not answer",
        {"seconds": 5},
        True,
    )
    assert AgentmeshError("boom").code == "internal_error"
