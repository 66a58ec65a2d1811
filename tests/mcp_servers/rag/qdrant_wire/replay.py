"""A loopback Qdrant server that answers from a cassette, in the recorded order.

Each request must be the next recorded one (method, path, query and JSON body alike) and must be
tenant-scoped (`protocol.tenant_scope`); otherwise the server answers with a Qdrant error body and
records why in `errors`, which the tests require to be empty. `GET /` (the client's version check,
sent from a background thread at any moment) is answered from the cassette, outside the order.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from tests.mcp_servers.rag.qdrant_wire.cassette import Cassette, Request
from tests.mcp_servers.rag.qdrant_wire.loopback import LoopbackServer
from tests.mcp_servers.rag.qdrant_wire.protocol import ROOT, Scope, UnscopedRequest, tenant_scope


@dataclass(frozen=True)
class Received:
    request: Request
    scope: Scope


class QdrantReplay(LoopbackServer):
    def __init__(self, cassette: Cassette) -> None:
        super().__init__()
        self._pending = cassette.exchanges()
        self._server_info = cassette.server
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.errors: list[str] = []
        # Set once a client has asked for the server version (its compatibility check).
        self.version_checked = threading.Event()

    @property
    def remaining(self) -> int:
        return len(self._pending)

    def take(self) -> list[Received]:
        """The requests answered since the last call."""
        with self._lock:
            taken, self._received = self._received, []
            return taken

    def answer(self, request: Request) -> tuple[int, Any]:
        if (request.method, request.path) == ("GET", ROOT):
            self.version_checked.set()
            return 200, self._server_info
        with self._lock:
            try:
                scope = tenant_scope(request.method, request.path, request.body)
            except (UnscopedRequest, LookupError) as error:
                return self._refuse(f"{request.method} {request.path}: {error}")
            if not self._pending:
                return self._refuse(f"{request.method} {request.path}: nothing more was recorded")
            expected = self._pending[0]
            if expected.request != request:
                return self._refuse(
                    f"{request.method} {request.path} is not the recorded request:\n"
                    f"  sent     {request.model_dump_json()}\n  recorded {expected.request.model_dump_json()}"
                )
            self._pending.pop(0)
            self._received.append(Received(request, scope))
            return expected.response.status, expected.response.body

    def _refuse(self, reason: str) -> tuple[int, Any]:
        self.errors.append(reason)
        return 400, {"status": {"error": f"replay: {reason}"}, "time": 0.0}
