"""The knowledge index against a Qdrant server's REST protocol (`QDRANT_URL`), replayed.

No Qdrant server binary is installable here, so a loopback server replays recorded exchanges
(tests/mcp_servers/rag/qdrant_wire, README there): the index must send exactly the recorded
requests, each confined to the tenant it acts for, and must read the recorded answers right.
The recordings themselves are checked against qdrant-client's models of the Qdrant API.
"""

from __future__ import annotations

import copy
import importlib.metadata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.common.version_check import is_compatible
from qdrant_client.http.exceptions import UnexpectedResponse

from mcp_servers.rag.engine import CHUNKS, DOCUMENTS, TENANT_FIELD, ScoredChunk
from tests.mcp_servers.rag.qdrant_wire.cassette import Cassette, Step
from tests.mcp_servers.rag.qdrant_wire.protocol import (
    UnscopedRequest,
    check_request,
    check_response,
    tenant_scope,
)
from tests.mcp_servers.rag.qdrant_wire.record import record as record_scenario
from tests.mcp_servers.rag.qdrant_wire.replay import QdrantReplay, Received
from tests.mcp_servers.rag.qdrant_wire.scenario import (
    ACME,
    ACME_V1,
    ACME_V2,
    DIMENSION,
    DOCUMENT,
    GLOBEX,
    GLOBEX_V1,
    OPENING,
    OPERATIONS,
    open_index,
    point_ids,
    record,
)

CASSETTE = Cassette.load("index_scenario.json")


@dataclass(frozen=True)
class Replayed:
    """What one run of the scenario against the replay produced."""

    results: dict[str, Any]
    received: dict[str, list[Received]]
    errors: list[str]
    unanswered: int


@pytest.fixture(scope="module")
def replayed() -> Replayed:
    replay = QdrantReplay(CASSETTE)
    results: dict[str, Any] = {}
    received: dict[str, list[Received]] = {}
    with replay.running():
        index = open_index(replay.url)
        received[OPENING] = replay.take()
        for operation in OPERATIONS:
            results[operation.name] = operation.run(index)
            received[operation.name] = replay.take()
        index.close()
        # The client checks the server version from a thread of its own; let it finish here.
        assert replay.version_checked.wait(10)
    return Replayed(results, received, list(replay.errors), replay.remaining)


def step(name: str) -> Step:
    return next(s for s in CASSETTE.steps if s.name == name)


def bodies(replayed: Replayed, name: str, path_suffix: str) -> list[Any]:
    return [r.request.body for r in replayed.received[name] if r.request.path.endswith(path_suffix)]


# The recordings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exchange",
    CASSETTE.exchanges(),
    ids=[f"{n}-{e.request.method}-{e.request.path}" for n, e in enumerate(CASSETTE.exchanges())],
)
def test_recorded_exchanges_follow_the_qdrant_api(exchange: Any) -> None:
    request, response = exchange.request, exchange.response
    check_request(request.method, request.path, request.body)
    check_response(request.method, request.path, response.status, response.body)


def test_recordings_match_the_installed_client_and_a_compatible_server() -> None:
    """Re-record (README) when qdrant-client changes: its requests may change with it."""
    client = importlib.metadata.version("qdrant-client")
    assert CASSETTE.qdrant_client == client
    assert is_compatible(client, CASSETTE.server["version"])


def test_the_recorder_reproduces_the_recordings() -> None:
    """The recordings are what `record.py` produces today (processing times aside)."""
    fresh = record_scenario()
    assert _timeless(fresh) == _timeless(CASSETTE)


def _timeless(cassette: Cassette) -> list[Any]:
    return [
        (exchange.request, {k: v for k, v in exchange.response.body.items() if k != "time"})
        for exchange in cassette.exchanges()
    ]


def test_the_recorded_steps_are_the_scenario() -> None:
    assert [s.name for s in CASSETTE.steps] == [OPENING, *(o.name for o in OPERATIONS)]
    assert [s.tenant for s in CASSETTE.steps[1:]] == [o.tenant for o in OPERATIONS]


# The index on the wire --------------------------------------------------------------------------


def test_the_index_sends_exactly_the_recorded_requests(replayed: Replayed) -> None:
    assert replayed.errors == []
    assert replayed.unanswered == 0
    for recorded in CASSETTE.steps:
        sent = [r.request for r in replayed.received[recorded.name]]
        assert sent == [e.request for e in recorded.exchanges], recorded.name


def test_every_request_stays_within_the_acting_tenant(replayed: Replayed) -> None:
    for recorded in CASSETTE.steps[1:]:
        assert recorded.tenant is not None
        for received in replayed.received[recorded.name]:
            scope = received.scope
            assert scope.kind in {"tenant", "ids"}, (recorded.name, received.request.path)
            if scope.kind == "tenant":
                assert scope.tenant == recorded.tenant, recorded.name
            else:
                assert set(scope.ids) <= point_ids(recorded.tenant), recorded.name


def test_collections_are_created_for_hybrid_search_with_a_tenant_index(replayed: Replayed) -> None:
    requests = {(r.request.path, r.request.method): r.request.body for r in replayed.received[OPENING]}
    chunks = requests[(f"/collections/{CHUNKS}", "PUT")]
    assert chunks["vectors"] == {"dense": {"size": DIMENSION, "distance": "Cosine"}}
    assert chunks["sparse_vectors"] == {"bm25": {"modifier": "idf"}}
    indexes = [
        (r.request.path, r.request.body["field_name"], r.request.body["field_schema"])
        for r in replayed.received[OPENING]
        if r.request.path.endswith("/index")
    ]
    for collection in (CHUNKS, DOCUMENTS):
        tenant_indexes = [
            s for p, f, s in indexes if p == f"/collections/{collection}/index" and f == TENANT_FIELD
        ]
        assert tenant_indexes == [{"type": "keyword", "is_tenant": True}], collection


def test_writes_carry_the_tenant_on_every_point(replayed: Replayed) -> None:
    upserts = bodies(replayed, "globex stores a document with the same id", "/points")
    written = [
        point for body in upserts if "points" in body and "ids" not in body for point in body["points"]
    ]
    assert {point["id"] for point in written} == point_ids(GLOBEX)
    assert {point["payload"][TENANT_FIELD] for point in written} == {GLOBEX}


def test_hybrid_search_fuses_two_prefetches_under_the_tenant_filter(replayed: Replayed) -> None:
    (query,) = bodies(replayed, "acme searches hybrid", "/points/query")
    tenant_only = {"must": [{"key": TENANT_FIELD, "match": {"value": ACME}}]}
    assert query["query"] == {"fusion": "dbsf"}
    assert query["filter"] == tenant_only
    assert [p["using"] for p in query["prefetch"]] == ["bm25", "dense"]
    # BM25's IDF counts the tenant's own chunks only.
    assert query["prefetch"][0]["params"] == {"idf": {"corpus": tenant_only}}


def test_search_reads_the_tenants_ranked_chunks(replayed: Replayed) -> None:
    hits: list[ScoredChunk] = replayed.results["acme searches hybrid"]
    assert [hit.point_id for hit in hits] == [point.point_id for point in ACME_V2]
    assert hits[0].score > hits[1].score
    assert {hit.payload[TENANT_FIELD] for hit in hits} == {ACME}
    assert hits[0].payload["text"] == ACME_V2[0].payload["text"]
    globex: list[ScoredChunk] = replayed.results["globex searches hybrid"]
    assert [hit.point_id for hit in globex] == [GLOBEX_V1[0].point_id]


def test_a_metadata_condition_joins_the_tenant_filter(replayed: Replayed) -> None:
    (query,) = bodies(replayed, "acme searches dense within one document", "/points/query")
    assert query["filter"]["must"] == [
        {"key": TENANT_FIELD, "match": {"value": ACME}},
        {"key": "document_id", "match": {"value": DOCUMENT}},
    ]
    assert query["using"] == "dense"


def test_replacing_a_document_deletes_its_stale_chunk_by_id(replayed: Replayed) -> None:
    (delete,) = bodies(replayed, "acme replaces one chunk of its document", "/points/delete")
    assert delete == {"points": [ACME_V1[1].point_id]}


def test_documents_are_listed_and_counted_within_the_tenant(replayed: Replayed) -> None:
    (listed,) = replayed.results["acme lists its documents"]
    expected = {key: value for key, value in record(ACME_V2).items() if key != "text"}
    assert listed == {**expected, TENANT_FIELD: ACME}
    assert replayed.results["acme counts its chunks"] == 2
    assert replayed.results["acme looks a document up by content"]["document_id"] == DOCUMENT
    assert replayed.results["acme reads its document"]["text"] == record(ACME_V2)["text"]
    vectors = replayed.results["acme reuses its stored vectors"]
    assert set(vectors) == {point.point_id for point in ACME_V2}


def test_deleting_a_document_removes_it_for_its_tenant_only(replayed: Replayed) -> None:
    deletes = bodies(replayed, "acme deletes its document", "/points/delete")
    assert [d["filter"]["must"] for d in deletes] == [
        [
            {"key": TENANT_FIELD, "match": {"value": ACME}},
            {"key": "document_id", "match": {"value": DOCUMENT}},
        ]
    ] * 2
    assert replayed.results["acme deletes its document"]["document_id"] == DOCUMENT
    assert replayed.results["acme searches after deleting"] == []
    remaining: list[ScoredChunk] = replayed.results["globex still finds its document"]
    assert [hit.point_id for hit in remaining] == [GLOBEX_V1[0].point_id]
    assert [d["document_id"] for d in replayed.results["globex lists its documents"]] == [DOCUMENT]


def test_the_index_drops_another_tenants_point_a_faulty_server_returns() -> None:
    """Defence in depth: if a server ignored the filter, the index would still not leak.

    The recorded globex search answer is altered here, on purpose, to also hold an acme chunk.
    """
    faulty = copy.deepcopy(CASSETTE)
    faulty.steps = [faulty.steps[0], step("acme stores a document"), step("globex searches hybrid")]
    leaked = copy.deepcopy(step("acme searches hybrid").exchanges[0].response.body["result"]["points"][0])
    faulty.steps[-1].exchanges[0].response.body["result"]["points"].insert(0, leaked)
    replay = QdrantReplay(faulty)
    with replay.running():
        index = open_index(replay.url)
        OPERATIONS[0].run(index)
        hits = next(o for o in OPERATIONS if o.name == "globex searches hybrid").run(index)
        index.close()
        assert replay.version_checked.wait(10)
    assert replay.errors == []
    assert [hit.point_id for hit in hits] == [GLOBEX_V1[0].point_id]


# The isolation check itself can fail ------------------------------------------------------------


@pytest.fixture
def raw_client() -> Iterator[tuple[QdrantClient, QdrantReplay]]:
    replay = QdrantReplay(CASSETTE)
    with replay.running():
        client = QdrantClient(url=replay.url, check_compatibility=False)
        yield client, replay
        client.close()


def test_a_scroll_without_the_tenant_filter_is_refused(raw_client: tuple[QdrantClient, QdrantReplay]) -> None:
    client, replay = raw_client
    with pytest.raises(UnexpectedResponse):
        client.scroll(DOCUMENTS, limit=10)
    assert replay.errors and "no filter" in replay.errors[0]


def test_a_tenant_condition_under_should_does_not_scope(
    raw_client: tuple[QdrantClient, QdrantReplay],
) -> None:
    client, replay = raw_client
    either = models.Filter(
        should=[models.FieldCondition(key=TENANT_FIELD, match=models.MatchValue(value=ACME))]
    )
    with pytest.raises(UnexpectedResponse):
        client.count(CHUNKS, count_filter=either)
    assert replay.errors and "no single `must` match" in replay.errors[0]


def test_a_request_other_than_the_recorded_one_is_refused(
    raw_client: tuple[QdrantClient, QdrantReplay],
) -> None:
    client, replay = raw_client
    with pytest.raises(UnexpectedResponse):
        client.count(
            CHUNKS,
            count_filter=models.Filter(
                must=[models.FieldCondition(key=TENANT_FIELD, match=models.MatchValue(value=ACME))]
            ),
        )
    assert replay.errors and "is not the recorded request" in replay.errors[0]


def test_an_idf_corpus_of_another_tenant_is_refused() -> None:
    acme = {"must": [{"key": TENANT_FIELD, "match": {"value": ACME}}]}
    globex = {"must": [{"key": TENANT_FIELD, "match": {"value": GLOBEX}}]}
    body = {
        "prefetch": [{"query": [0.1] * DIMENSION, "using": "bm25", "params": {"idf": {"corpus": globex}}}],
        "query": {"fusion": "rrf"},
        "filter": acme,
    }
    with pytest.raises(UnscopedRequest, match="IDF corpus"):
        tenant_scope("POST", f"/collections/{CHUNKS}/points/query", body)


def test_an_upsert_with_a_point_missing_its_tenant_is_refused() -> None:
    body = {
        "points": [
            {"id": 1, "vector": {}, "payload": {TENANT_FIELD: ACME}},
            {"id": 2, "vector": {}, "payload": {}},
        ]
    }
    with pytest.raises(UnscopedRequest, match="one tenant"):
        tenant_scope("PUT", f"/collections/{DOCUMENTS}/points", body)
