"""The gateway served over real HTTP on a loopback port, in a thread of the test process."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping

import uvicorn
from starlette.applications import Starlette

from agentmesh.settings import Settings
from tests.support.processes import free_port, wait_healthy


@contextlib.contextmanager
def serving(app: Starlette, *, timeout: float = 120.0, port: int | None = None) -> Iterator[str]:
    """Serve `app` (lifespan included) with uvicorn in a thread (on `port`, else a free one);
    yield its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=f"gateway-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start on {url}")
            time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


@contextlib.contextmanager
def running_gateway(
    settings: Settings, servers: Mapping[str, str], *, port: int | None = None
) -> Iterator[str]:
    """The gateway for `servers` (name -> MCP URL), answering `/healthz`; yields its base URL."""
    from gateway.app import create_app

    with serving(create_app(settings, servers), port=port) as url:
        wait_healthy(f"{url}/healthz")
        yield url
