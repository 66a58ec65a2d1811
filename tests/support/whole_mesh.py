"""The whole mesh as a user starts it: `agentmesh up` in a subprocess on a fresh data directory.

`up` starts the demo ERP API, the four MCP servers (erp, rag, ocr, search) and the gateway with
the agent host inside; the test talks to it over HTTP only, as any client would, and may read the
data directory (the demo ERP's database, the platform database) to check what happened there.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from tests.support.processes import free_port, wait_healthy

BANNER_END = "Ctrl-C stops everything."
DEMO_ERP_DB = "demo_erp.db"
START_TIMEOUT_SECONDS = 240
LOG_LINES_SHOWN = 40


@dataclass
class WholeMesh:
    """A running `agentmesh up`: the gateway's URL, the MCP servers' URLs and the data directory."""

    url: str
    data_dir: Path
    server_urls: dict[str, str]
    process: subprocess.Popen[str]

    @property
    def settings(self) -> Settings:
        """The mesh's settings (same data directory, so the same keys and databases)."""
        return load_settings(AGENTMESH_DATA_DIR=self.data_dir, DATABASE_URL=None, REDIS_URL=None)

    def token(self, tenant: str, user: str, *roles: str) -> str:
        return issue_dev_token(self.settings, tenant_id=tenant, user=user, roles=list(roles) or None)

    def headers(self, tenant: str, user: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(tenant, user, *roles)}"}

    def request(
        self, method: str, path: str, headers: dict[str, str], body: Any = None, **kwargs: Any
    ) -> httpx.Response:
        """One HTTP request to the gateway (`body` sent as JSON when given)."""
        return httpx.request(method, f"{self.url}{path}", json=body, headers=headers, timeout=60, **kwargs)

    def orders(self) -> list[tuple[Any, ...]]:
        """Per tenant, from the demo ERP's own database: orders, order lines, and the last order id."""
        with sqlite3.connect(f"file:{self.data_dir / DEMO_ERP_DB}?mode=ro", uri=True) as db:
            return db.execute(
                "SELECT o.tenant_id, COUNT(DISTINCT o.order_id), COUNT(i.line), MAX(o.order_id) "
                "FROM orders o LEFT JOIN order_items i ON i.order_id = o.order_id "
                "GROUP BY o.tenant_id ORDER BY o.tenant_id"
            ).fetchall()


@contextlib.contextmanager
def running_whole_mesh(data_dir: Path, **env: str) -> Iterator[WholeMesh]:
    """`agentmesh up` on `data_dir` with `env` added; stopped (SIGTERM) when the block ends.

    The mesh's log goes to `data_dir/up.log` for reading when a test fails.
    """
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "QDRANT_URL"}}
    child_env.update({"AGENTMESH_LOG_LEVEL": "WARNING", **env})
    with (data_dir / "up.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "agentmesh.cli", "--data-dir", str(data_dir), "up", "--port", str(port)],
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_healthy(f"{url}/healthz", process, timeout=START_TIMEOUT_SECONDS)  # type: ignore[arg-type]
            except (RuntimeError, TimeoutError) as exc:
                # The failure's reason is in the mesh's own log: say it with the failure.
                log.flush()
                tail = "\n".join((data_dir / "up.log").read_text().splitlines()[-LOG_LINES_SHOWN:])
                raise RuntimeError(f"{exc}; the last lines of up.log:\n{tail}") from exc
            banner = ""
            assert process.stdout is not None
            while BANNER_END not in banner:
                line = process.stdout.readline()
                if not line:
                    raise RuntimeError(f"agentmesh up ended its banner early: {banner!r}")
                banner += line
            servers = dict(re.findall(r"(\w+)=(http://\S+/mcp)", banner))
            yield WholeMesh(url=url, data_dir=data_dir, server_urls=servers, process=process)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
