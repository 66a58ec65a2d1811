"""Every `agentmesh …` command line the README shows parses with the real parser.

Command lines are the lines of fenced code blocks that start with `agentmesh ` (less a trailing
` &`) or hold one in `$(…)`, and the first cells of table rows that are one `` `agentmesh …` ``
code span. Table cells are synopses, turned into one concrete line by the rules below; nothing
else is rewritten.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from agentmesh.cli import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"

# Synopsis placeholders and the value each stands for; any other upper-case word is a string.
PLACEHOLDER_VALUES = {"P": "8001", "SECONDS": "3600", "JSON": "{}"}
OPTIONAL = re.compile(r"\[([^\[\]]*)\]")  # `[--port P]` -> `--port P`
CHOICES = re.compile(r"\{(\w[\w-]*)(?:[,|][\w-]+)+\}")  # `{erp,rag}` -> `erp`
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*$")
SUBSTITUTION = re.compile(r"\$\((agentmesh [^)]*)\)")
CODE_CELL = re.compile(r"^`(agentmesh [^`]*)`$")  # a cell that is one code span, not prose around one


def code_block_lines(text: str) -> list[str]:
    lines, inside = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        if not inside:
            continue
        if line.strip().startswith("agentmesh "):
            lines.append(line.strip().removesuffix(" &"))  # a shell's "run in the background"
        lines.extend(SUBSTITUTION.findall(line))
    return lines


def table_synopses(text: str) -> list[str]:
    cells = (line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| `agentmesh "))
    return [match[1] for cell in cells if (match := CODE_CELL.match(cell))]


def concrete(synopsis: str) -> str:
    """One command line a synopsis allows: every optional part given, the first of each choice."""
    while OPTIONAL.search(synopsis):
        synopsis = OPTIONAL.sub(r"\1", synopsis)
    synopsis = CHOICES.sub(r"\1", synopsis).replace("…", "")
    words = shlex.split(synopsis)
    return shlex.join(PLACEHOLDER_VALUES.get(w, "x") if PLACEHOLDER.match(w) else w for w in words)


def readme_command_lines() -> list[str]:
    text = README.read_text()
    return code_block_lines(text) + [concrete(synopsis) for synopsis in table_synopses(text)]


def test_the_readme_shows_command_lines() -> None:
    lines = readme_command_lines()
    assert len(lines) >= 15
    assert any(line.startswith("agentmesh token --server") for line in lines)


@pytest.mark.parametrize("line", readme_command_lines())
def test_a_readme_command_line_parses(line: str) -> None:
    argv = shlex.split(line, comments=True)[1:]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"`{line}` does not parse (exit {exc.code})")
    assert callable(args.handler)


@pytest.mark.parametrize(
    ("synopsis", "line"),
    [
        ("agentmesh up [--host H] [--port P]", "agentmesh up --host x --port 8001"),
        ("agentmesh serve {erp,rag} --transport {stdio,http}", "agentmesh serve erp --transport stdio"),
        ("agentmesh replay FILE…", "agentmesh replay x"),
        ("agentmesh token --tool NAME… [--ttl SECONDS]", "agentmesh token --tool x --ttl 3600"),
    ],
)
def test_a_synopsis_becomes_one_concrete_line(synopsis: str, line: str) -> None:
    assert concrete(synopsis) == line
