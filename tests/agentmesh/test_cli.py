"""The command line: global options wherever the user puts them, a start that imports only what the
command uses, and one line (exit 2, no traceback) for whatever stops a command from starting."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agentmesh.cli import build_parser, main

# One valid command line per command (and per action of the commands that have actions).
COMMAND_LINES = [
    ["up", "--port", "8001"],
    ["gateway", "--port", "8001"],
    ["serve", "erp", "--transport", "stdio"],
    ["demo-erp", "--port", "8091"],
    ["token", "--tenant", "acme", "--user", "alice"],
    ["token", "--server", "erp", "--tenant", "acme", "--tool", "get_customer_debt"],
    ["chat", "--tenant", "acme", "hello"],
    ["policy", "check", "--tenant", "acme", "--tool", "erp:create_order"],
    ["policy", "show", "--tenant", "acme"],
    ["db", "upgrade"],
    ["db", "check"],
    ["db", "current"],
    ["db", "revision", "-m", "note"],
    ["replay", "episode.json"],
]

# What `agentmesh --help`, `token` and `chat` must not import: each costs seconds at start.
HEAVY_MODULES = ["mcp", "torch", "sentence_transformers", "sqlalchemy", "gateway", "host", "qdrant_client"]


@pytest.mark.parametrize("line", COMMAND_LINES, ids=lambda line: " ".join(line[:2]))
def test_data_dir_is_accepted_before_and_after_the_command(line: list[str], tmp_path: Path) -> None:
    before = build_parser().parse_args(["--data-dir", str(tmp_path), *line])
    after = build_parser().parse_args([*line, "--data-dir", str(tmp_path)])
    assert before.data_dir == after.data_dir == tmp_path
    assert before.handler is after.handler


def test_a_command_without_data_dir_leaves_it_to_the_environment() -> None:
    args = build_parser().parse_args(["token", "--tenant", "acme"])
    assert getattr(args, "data_dir", None) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["token", "--tenant", "acme", "--data-dir", "{data_dir}"],
        ["chat", "--tenant", "acme", "--url", "http://127.0.0.1:9", "--data-dir", "{data_dir}", "hi"],
    ],
    ids=["help", "token", "chat"],
)
def test_quick_commands_import_only_what_they_use(argv: list[str], tmp_path: Path) -> None:
    argv = [arg.replace("{data_dir}", str(tmp_path)) for arg in argv]
    probe = (
        "import json, sys\n"
        "from agentmesh.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY_MODULES!r}))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_up_on_a_taken_port_fails_in_one_line_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(["up", "--port", str(port), "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"agentmesh up: port {port} on 127.0.0.1 is already in use (try --port ")
    assert err.count("\n") == 1
    assert not (tmp_path / "keys").exists(), "nothing was started: not even the keys were made"


@pytest.mark.parametrize(
    ("command", "url", "expected"),
    [
        (["up"], "mysql://root:hunter2@db/agentmesh", "DATABASE_URL: unsupported scheme 'mysql'; use "),
        (
            ["gateway"],
            "postgresql://u:hunter2@db/agentmesh",
            "DATABASE_URL: unsupported scheme 'postgresql' (did you mean postgresql+asyncpg://…?)",
        ),
        (["db", "upgrade"], "not a url at all", "DATABASE_URL is not a database URL; use "),
        (
            ["db", "upgrade"],
            "postgresql+asyncpg://u:hunter2@127.0.0.1:1/agentmesh",
            "cannot reach the database postgresql+asyncpg://u:***@127.0.0.1:1/agentmesh: ",
        ),
    ],
    ids=["up-mysql", "gateway-no-driver", "db-upgrade-garbage", "db-upgrade-unreachable"],
)
def test_a_bad_database_url_is_one_line_without_the_password(
    command: list[str],
    url: str,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    status = main([*command, "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"agentmesh {command[0]}: {expected}")
    assert err.count("\n") == 1
    assert "hunter2" not in err


def test_a_data_dir_whose_parent_is_missing_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-folder" / "data"
    assert main(["token", "--tenant", "acme", "--data-dir", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"agentmesh token: data directory {missing} cannot be created: {missing.parent} does not exist; "
        "create it first or pass --data-dir or set AGENTMESH_DATA_DIR to a directory you can write\n"
    )
    assert not missing.parent.exists()


def test_the_data_dir_defaults_to_the_per_user_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AGENTMESH_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.chdir(tmp_path)
    assert main(["token", "--tenant", "acme"]) == 0
    assert capsys.readouterr().out.count(".") == 2, "a JWT on stdout"
    assert (tmp_path / "share" / "agentmesh" / "keys").is_dir(), "created with its parents"
    assert not (tmp_path / ".agentmesh").exists(), "never the working directory"


def as_unprivileged(argv: list[str]) -> list[str]:
    """`argv` run without the power to write where file modes forbid it, even as root (CI)."""
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *argv]


def test_a_read_only_data_dir_is_one_line_and_exit_2_not_a_traceback(tmp_path: Path) -> None:
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    command = [sys.executable, "-m", "agentmesh.cli", "serve", "erp", "--transport", "stdio"]
    done = subprocess.run(
        as_unprivileged([*command, "--data-dir", str(read_only / "data")]),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"agentmesh serve: data directory {read_only / 'data'} is not writable (permission denied); "
        "pass --data-dir or set AGENTMESH_DATA_DIR to a directory you can write\n"
    )
