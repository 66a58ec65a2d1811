"""Why a command cannot start, said in one line: the checks made before anything starts.

A terminal user or a desktop assistant reading a server's stderr gets one line naming what is
wrong and what to do, never a traceback: the data directory must be a directory this process can
write, and `DATABASE_URL` must name a backend whose driver ships with agentmesh and answer (a
port to listen on: `agentmesh.listeners`). Each failure is a `StartupError` with a stable `code`;
`agentmesh.cli` prints it and exits with status 2.
"""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

EXIT_STARTUP = 2

SUPPORTED_DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
_DATABASE_URL_FORMS = "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE"
# Likely meant: the same backend with the driver agentmesh ships.
_DRIVER_FOR = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
}


class StartupError(Exception):
    """A command that cannot start; `message` is the whole line the user reads."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def usable_data_dir(path: Path, *, create_parents: bool) -> Path:
    """`path` as an absolute directory this process can write, created if missing.

    The per-user default is created with its parents; a directory the user named must have an
    existing parent, so a typo does not quietly grow a new tree somewhere.
    """
    path = path.expanduser().absolute()
    what_to_do = "pass --data-dir or set AGENTMESH_DATA_DIR to a directory you can write"
    if path.exists() and not path.is_dir():
        raise StartupError("data_dir_not_a_directory", f"data directory {path} is a file; {what_to_do}")
    if not path.exists() and not create_parents and not path.parent.is_dir():
        raise StartupError(
            "data_dir_missing",
            f"data directory {path} cannot be created: {path.parent} does not exist; "
            f"create it first or {what_to_do}",
        )
    try:
        path.mkdir(parents=create_parents, exist_ok=True)
        # The only reliable test: access(2) says yes to root on a read-only bind mount's files.
        with tempfile.TemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        reasons = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied"}
        reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
        raise StartupError(
            "data_dir_not_writable", f"data directory {path} is not writable ({reason}); {what_to_do}"
        ) from exc
    return path


def check_database_url(url: str | None) -> None:
    """Refuse a `DATABASE_URL` agentmesh cannot use, without echoing it (it may hold a password)."""
    if url is None:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        scheme = make_url(url).drivername
    except ArgumentError:
        raise StartupError(
            "database_url_invalid", f"DATABASE_URL is not a database URL; {_DATABASE_URL_FORMS}"
        ) from None
    if scheme in SUPPORTED_DATABASE_SCHEMES:
        return
    hint = f" (did you mean {_DRIVER_FOR[scheme]}://…?)" if scheme in _DRIVER_FOR else ""
    raise StartupError(
        "database_url_unsupported",
        f"DATABASE_URL: unsupported scheme '{scheme}'{hint}; {_DATABASE_URL_FORMS}",
    )


def check_database_reachable(url: str, timeout_seconds: float = 10.0) -> None:
    """Refuse to start when the database does not answer `SELECT 1` within `timeout_seconds`."""
    import anyio
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from agentmesh.db import create_engine

    async def ping() -> None:
        engine = create_engine(url)
        try:
            with anyio.fail_after(timeout_seconds):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        anyio.run(ping)
    except Exception as exc:  # any driver's failure to connect: said in one line, as that line says it
        where = make_url(url).render_as_string(hide_password=True)
        reason = "no answer" if isinstance(exc, TimeoutError) else _first_line(exc)
        raise StartupError(
            "database_unreachable", f"cannot reach the database {where}: {reason}; check DATABASE_URL"
        ) from exc


def _first_line(exc: BaseException) -> str:
    # SQLAlchemy wraps the driver's error: its original text is the useful part.
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return f"{type(original).__name__}: {text[0]}" if text else type(original).__name__
