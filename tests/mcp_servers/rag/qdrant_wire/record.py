"""Record the scenario's Qdrant REST exchanges: `python -m tests.mcp_servers.rag.qdrant_wire.record`.

No Qdrant server binary can be installed here, so the answering side is this module: a loopback
HTTP server that parses each request with qdrant-client's generated models (the server's OpenAPI
types), runs it on qdrant-client's local mode (Qdrant's exact reference engine in Python) and
answers the way a Qdrant v1.19 server serialises its replies:

- the envelope `{"result": …, "status": "ok", "time": seconds}`;
- fields that are None left out (`skip_serializing_if = "Option::is_none"` on Record, ScoredPoint
  and UpdateResult), except ScrollResult's `next_page_offset`, which the server always writes;
- scores and vector components as 32-bit floats in their shortest form (the server's f32);
- `operation_id` numbered per collection from 0, each write (payload index, upsert, delete) one
  operation, and a ScoredPoint's `version` the operation that last wrote the point;
- `GET /` answering the version and commit of the Qdrant release the deploy files run.

The requests are recorded exactly as the index sent them. Every exchange is then checked against
the models (`protocol.check_request`, `protocol.check_response`) before the cassette is written.
"""

from __future__ import annotations

import importlib.metadata
import threading
import time
from collections import defaultdict
from typing import Any

import numpy as np
from pydantic import TypeAdapter
from qdrant_client import QdrantClient
from qdrant_client.http import models

from tests.mcp_servers.rag.qdrant_wire.cassette import Cassette, Exchange, Request, Response, Step
from tests.mcp_servers.rag.qdrant_wire.loopback import LoopbackServer
from tests.mcp_servers.rag.qdrant_wire.protocol import ROOT, check_request, check_response, endpoint
from tests.mcp_servers.rag.qdrant_wire.scenario import OPENING, OPERATIONS, open_index

CASSETTE = "index_scenario.json"
# The release in deploy/compose.yaml and the Kubernetes datastores (tag v1.19.0 of qdrant/qdrant).
SERVER_INFO = {
    "title": "qdrant - vector search engine",
    "version": "1.19.0",
    "commit": "74f3e85b9473c62560006c043e13737ce6b48412",
}
PRODUCED_BY = (
    "tests/mcp_servers/rag/qdrant_wire/record.py: requests sent by the index through qdrant-client; "
    "responses computed by qdrant-client's local mode and serialised as a Qdrant v1.19 server does"
)


class LocalModeServer(LoopbackServer):
    """Answers Qdrant REST requests from an in-memory local-mode engine."""

    def __init__(self) -> None:
        super().__init__()
        self._engine = QdrantClient(":memory:")
        self._operations: dict[str, int] = defaultdict(int)
        self._versions: dict[tuple[str, str], int] = {}
        self.exchanges: list[Exchange] = []
        # Set once the client has asked for the server version (from a thread of its own).
        self.version_checked = threading.Event()

    def answer(self, request: Request) -> tuple[int, Any]:
        if (request.method, request.path) == ("GET", ROOT):
            self.version_checked.set()
            return 200, SERVER_INFO
        target, collection = endpoint(request.method, request.path)
        body = TypeAdapter(target.request).validate_python(request.body) if target.request else None
        started = time.perf_counter()
        result = getattr(self, f"_{target.name}")(collection, body)
        reply = {"result": result, "status": "ok", "time": round(time.perf_counter() - started, 9)}
        self.exchanges.append(Exchange(request=request, response=Response(status=200, body=reply)))
        return 200, reply

    # One method per endpoint, named after it --------------------------------------------------

    def _collection_exists(self, collection: str, _: None) -> Any:
        return {"exists": self._engine.collection_exists(collection)}

    def _create_collection(self, collection: str, body: models.CreateCollection) -> Any:
        return self._engine.create_collection(
            collection, vectors_config=body.vectors, sparse_vectors_config=body.sparse_vectors
        )

    def _create_field_index(self, collection: str, body: models.CreateFieldIndex) -> Any:
        # Local mode keeps no payload indexes; the server applies the index as one operation.
        return self._write(collection, [])

    def _upsert_points(self, collection: str, body: models.PointsList) -> Any:
        self._engine.upsert(collection, points=body.points, wait=True)
        return self._write(collection, [str(point.id) for point in body.points])

    def _delete_points(self, collection: str, body: models.PointIdsList | models.FilterSelector) -> Any:
        self._engine.delete(collection, points_selector=body, wait=True)
        return self._write(collection, [])

    def _get_points(self, collection: str, body: models.PointRequest) -> Any:
        records = self._engine.retrieve(
            collection,
            body.ids,
            with_payload=_payload(body.with_payload, True),
            with_vectors=_vectors(body.with_vector),
        )
        return [_without_none(_f32(record.model_dump(mode="json"))) for record in records]

    def _query_points(self, collection: str, body: models.QueryRequest) -> Any:
        response = self._engine.query_points(
            collection,
            query=body.query,
            using=body.using,
            prefetch=body.prefetch,
            query_filter=body.filter,
            search_params=body.params,
            limit=body.limit or 10,
            offset=body.offset,
            with_payload=_payload(body.with_payload, False),
            with_vectors=_vectors(body.with_vector),
            score_threshold=body.score_threshold,
        )
        points = []
        for point in response.points:
            dumped = _without_none(_f32(point.model_dump(mode="json")))
            dumped["version"] = self._versions[(collection, str(point.id))]
            points.append(dumped)
        return {"points": points}

    def _scroll_points(self, collection: str, body: models.ScrollRequest) -> Any:
        records, next_offset = self._engine.scroll(
            collection,
            scroll_filter=body.filter,
            limit=body.limit or 10,
            offset=body.offset,
            with_payload=_payload(body.with_payload, True),
            with_vectors=_vectors(body.with_vector),
        )
        return {
            "points": [_without_none(_f32(record.model_dump(mode="json"))) for record in records],
            "next_page_offset": next_offset,
        }

    def _count_points(self, collection: str, body: models.CountRequest) -> Any:
        return {
            "count": self._engine.count(
                collection, count_filter=body.filter, exact=body.exact is not False
            ).count
        }

    def _write(self, collection: str, point_ids: list[str]) -> Any:
        operation = self._operations[collection]
        self._operations[collection] += 1
        for point_id in point_ids:
            self._versions[(collection, point_id)] = operation
        return {"operation_id": operation, "status": "completed"}


def _payload(selector: models.WithPayloadInterface | None, default: bool) -> models.WithPayloadInterface:
    """The request's payload selector, or the server's documented default when it has none."""
    return default if selector is None else selector


def _vectors(selector: models.WithVector | None) -> models.WithVector:
    """The request's vector selector; without one the server returns no vectors."""
    return False if selector is None else selector


def _without_none(value: dict[str, Any]) -> dict[str, Any]:
    return {key: item for key, item in value.items() if item is not None}


def _f32(value: Any) -> Any:
    """Floats as the server writes its f32 scores and vectors: the shortest 32-bit form."""
    if isinstance(value, float):
        return float(repr(np.float32(value)).removeprefix("np.float32(").removesuffix(")"))
    if isinstance(value, dict):
        return {key: item if key == "payload" else _f32(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_f32(item) for item in value]
    return value


def record() -> Cassette:
    server = LocalModeServer()
    steps = []
    with server.running():
        index = open_index(server.url)
        steps.append(Step(name=OPENING, tenant=None, exchanges=_taken(server)))
        for operation in OPERATIONS:
            operation.run(index)
            steps.append(Step(name=operation.name, tenant=operation.tenant, exchanges=_taken(server)))
        index.close()
        if not server.version_checked.wait(10):
            raise RuntimeError("the client never asked for the server version")
    cassette = Cassette(
        qdrant_client=importlib.metadata.version("qdrant-client"),
        server=SERVER_INFO,
        produced_by=PRODUCED_BY,
        steps=steps,
    )
    for exchange in cassette.exchanges():
        check_request(exchange.request.method, exchange.request.path, exchange.request.body)
        check_response(
            exchange.request.method, exchange.request.path, exchange.response.status, exchange.response.body
        )
    return cassette


def _taken(server: LocalModeServer) -> list[Exchange]:
    taken, server.exchanges = server.exchanges, []
    return taken


if __name__ == "__main__":
    record().save(CASSETTE)
    print(f"wrote {CASSETTE}")
