"""The knowledge base in process, on each embedded engine (Qdrant local mode, Qdrant Edge).

These pin what the server relies on beneath the MCP layer: every read is scoped to the tenant
(including BM25's statistics), and failed writes leave the previous version intact (ingestion
jobs: `test_jobs.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import models

from agentmesh.embeddings import EMBEDDING_DIM, embed
from mcp_servers.rag.chunking import Chunk
from mcp_servers.rag.edge_index import EdgeKnowledgeIndex
from mcp_servers.rag.engine import KnowledgeEngine, SearchMode
from mcp_servers.rag.errors import InvalidFilter
from mcp_servers.rag.index import KnowledgeIndex
from mcp_servers.rag.knowledge_base import DocumentInput, KnowledgeBase, indexed_text


@pytest.fixture(scope="module", params=["local", "edge"])
def knowledge(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KnowledgeBase]:
    path: Path = tmp_path_factory.mktemp(f"kb-{request.param}")
    index: KnowledgeEngine = (
        EdgeKnowledgeIndex.open(path=path, dimension=EMBEDDING_DIM)
        if request.param == "edge"
        else KnowledgeIndex.open(path=path, url=None, dimension=EMBEDDING_DIM)
    )
    kb = KnowledgeBase(index)
    yield kb
    kb.close()


def text(data: str, **fields: Any) -> DocumentInput:
    return DocumentInput(data=data.encode(), source_type="markdown", **fields)


def test_sparse_scores_use_only_the_tenants_own_statistics(knowledge: KnowledgeBase) -> None:
    knowledge.ingest("t-idf-a", text("Zebras graze on the savanna.", title="Zebras", document_id="z"))
    knowledge.ingest("t-idf-a", text("Lions hunt at night.", title="Lions", document_id="l"))
    before = knowledge.search("t-idf-a", "zebra savanna", mode="sparse")[0].score

    # Another tenant floods the collection with the same words.
    flood = [text(f"Zebra note {n}: zebras on the savanna.", title=f"Note {n}") for n in range(30)]
    knowledge.ingest_many("t-idf-b", flood)
    after = knowledge.search("t-idf-a", "zebra savanna", mode="sparse")[0].score
    assert after == pytest.approx(before)
    assert knowledge.index.chunk_count("t-idf-a") == 2


def test_every_mode_returns_only_the_callers_chunks(knowledge: KnowledgeBase) -> None:
    knowledge.ingest("t-iso-a", text("Project Falcon launches in May.", title="Falcon", document_id="falcon"))
    knowledge.ingest("t-iso-b", text("Project Falcon is cancelled.", title="Falcon", document_id="falcon"))
    modes: tuple[SearchMode, ...] = ("hybrid", "dense", "sparse")
    for mode in modes:
        hits = knowledge.search("t-iso-a", "Project Falcon", top_k=20, mode=mode)
        assert [hit.text for hit in hits] == ["Project Falcon launches in May."], mode
    assert knowledge.document("t-iso-b", "falcon").text == "Project Falcon is cancelled."
    knowledge.delete("t-iso-a", "falcon")
    assert knowledge.document("t-iso-b", "falcon").text == "Project Falcon is cancelled."


def test_a_failed_update_leaves_the_previous_version_whole(
    knowledge: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = "# Hours\n\n## Weekdays\n\nOpen 8 to 17.\n\n## Weekends\n\nClosed."
    knowledge.ingest("t-undo", text(original, document_id="hours"))

    def disk_full(point: Any) -> None:
        raise OSError("disk full")

    # The document record is written after the chunks: failing there leaves the most to undo.
    monkeypatch.setattr(knowledge.index, "_write_record", disk_full)
    changed = "# Hours\n\n## Weekdays\n\nOpen 9 to 18.\n\n## Weekends\n\nClosed.\n\n## Holidays\n\nClosed."
    with pytest.raises(OSError, match="disk full"):
        knowledge.ingest("t-undo", text(changed, document_id="hours"))
    monkeypatch.undo()

    assert knowledge.document("t-undo", "hours").chunk_count == 2
    hits = knowledge.search("t-undo", "opening hours", top_k=10)
    assert sorted(hit.text for hit in hits) == ["Closed.", "Open 8 to 17."]
    assert knowledge.index.chunk_count("t-undo") == 2


def test_each_chunk_is_stored_with_the_embedding_of_its_own_text(knowledge: KnowledgeBase) -> None:
    # Chunks are embedded in batches sorted by length, not in document order; each vector must
    # still land on the chunk it was computed from.
    guide = "\n\n".join(
        f"## Part {n}\n\nStep {n} of the guide: " + "tighten the bolt. " * (4 * n) for n in range(6)
    )
    knowledge.ingest_many(
        "t-embed",
        [
            text(guide, title="Guide", document_id="guide"),
            text("A short note.", title="Note", document_id="note"),
        ],
    )
    chunks = knowledge.index.search(
        "t-embed", dense=embed(["guide"])[0], sparse=None, limit=100, mode="dense"
    )
    assert len(chunks) == 7
    texts = [
        indexed_text(
            chunk.payload["title"],
            Chunk(
                chunk.payload["chunk_index"],
                chunk.payload["text"],
                tuple(filter(None, [chunk.payload["heading"]])),
            ),
        )
        for chunk in chunks
    ]
    vectors = knowledge.index.stored_dense_vectors("t-embed", [chunk.point_id for chunk in chunks])
    stored = np.array([vectors[chunk.point_id] for chunk in chunks])
    similarity = stored @ embed(texts).T
    assert list(similarity.argmax(axis=1)) == list(range(len(chunks)))
    assert similarity.diagonal().min() > 0.999


def test_filters_are_validated_before_any_search(knowledge: KnowledgeBase) -> None:
    with pytest.raises(InvalidFilter, match="metadata key 'bad key'"):
        knowledge.search("t-filter", "x", filters={"bad key": "v"})
    with pytest.raises(InvalidFilter, match="empty list"):
        knowledge.search("t-filter", "x", filters={"team": []})


def test_index_conditions_are_added_to_the_tenant_filter_never_instead_of_it(
    knowledge: KnowledgeBase,
) -> None:
    knowledge.ingest("t-cond-a", text("Budget for 2025 is approved.", title="Budget", document_id="budget"))
    knowledge.ingest("t-cond-b", text("Budget for 2025 is rejected.", title="Budget", document_id="budget"))
    # A condition that would match both tenants' chunks still returns only the caller's.
    condition = models.FieldCondition(key="document_id", match=models.MatchValue(value="budget"))
    found = knowledge.index.search(
        "t-cond-a",
        dense=None,
        sparse=knowledge._encoder.query("budget"),
        limit=10,
        conditions=[condition],
        mode="sparse",
    )
    assert [chunk.payload["text"] for chunk in found] == ["Budget for 2025 is approved."]


def test_metadata_filters_narrow_every_mode_to_the_matching_documents(knowledge: KnowledgeBase) -> None:
    for team, year in (("sales", 2024), ("sales", 2025), ("support", 2025)):
        body = f"The {team} handbook for {year} covers refunds."
        knowledge.ingest(
            "t-meta",
            text(
                body,
                title=f"{team} {year}",
                document_id=f"{team}-{year}",
                metadata={"team": team, "year": year},
            ),
        )
    modes: tuple[SearchMode, ...] = ("hybrid", "dense", "sparse")
    for mode in modes:
        by_value = knowledge.search(
            "t-meta", "handbook refunds", top_k=10, mode=mode, filters={"team": "sales"}
        )
        assert sorted(hit.document_id for hit in by_value) == ["sales-2024", "sales-2025"], mode
        any_of = knowledge.search(
            "t-meta", "handbook refunds", top_k=10, mode=mode, filters={"year": [2024, 2023]}
        )
        assert [hit.document_id for hit in any_of] == ["sales-2024"], mode
        both = knowledge.search(
            "t-meta", "handbook refunds", top_k=10, mode=mode, filters={"team": "support", "year": 2025}
        )
        assert [hit.document_id for hit in both] == ["support-2025"], mode


def test_the_index_and_its_tenant_scoping_survive_a_restart(tmp_path: Path) -> None:
    first = KnowledgeBase(EdgeKnowledgeIndex.open(path=tmp_path, dimension=EMBEDDING_DIM))
    first.ingest(
        "t-restart-a", text("Warehouse B closes at noon on Fridays.", title="Hours", document_id="hours")
    )
    first.ingest("t-restart-b", text("Warehouse B is open all day.", title="Hours", document_id="hours"))
    first.close()

    reopened = KnowledgeBase(EdgeKnowledgeIndex.open(path=tmp_path, dimension=EMBEDDING_DIM))
    try:
        hits = reopened.search("t-restart-a", "when does warehouse B close", top_k=10)
        assert [hit.text for hit in hits] == ["Warehouse B closes at noon on Fridays."]
        assert reopened.index.chunk_count("t-restart-b") == 1
        assert reopened.delete("t-restart-a", "hours") is not None
        assert reopened.index.chunk_count("t-restart-a") == 0
        assert reopened.document("t-restart-b", "hours").text == "Warehouse B is open all day."
    finally:
        reopened.close()


def test_the_embedded_engine_refuses_a_condition_it_cannot_translate(tmp_path: Path) -> None:
    index = EdgeKnowledgeIndex.open(path=tmp_path, dimension=EMBEDDING_DIM)
    try:
        text_match = models.FieldCondition(key="title", match=models.MatchText(text="hours"))
        with pytest.raises(TypeError, match="exact-match field conditions only"):
            index.search("t-edge", dense=embed(["hours"])[0], sparse=None, limit=5, conditions=[text_match])
    finally:
        index.close()


def test_a_small_tenant_is_not_crowded_out_by_a_large_one_on_the_same_topic(knowledge: KnowledgeBase) -> None:
    # More of another tenant's matching chunks than a prefetch holds: the tenant filter must apply
    # inside each prefetch, not after it, or the small tenant's own chunk never comes back.
    crowd = [
        text(f"Refund policy note {n}: refunds are issued within days.", title=f"Note {n}")
        for n in range(120)
    ]
    knowledge.ingest_many("t-crowd-big", crowd)
    knowledge.ingest("t-crowd-small", text("Our refund policy allows thirty days.", title="Refunds"))
    modes: tuple[SearchMode, ...] = ("hybrid", "dense", "sparse")
    for mode in modes:
        hits = knowledge.search("t-crowd-small", "refund policy", top_k=5, mode=mode)
        assert [hit.text for hit in hits] == ["Our refund policy allows thirty days."], mode


def test_deleting_a_tenant_removes_its_documents_and_chunks_and_nobody_elses(
    knowledge: KnowledgeBase,
) -> None:
    for tenant in ("t-gone", "t-kept"):
        knowledge.ingest(tenant, text(f"# Dock rules\n\nThe {tenant} dock opens at six.", document_id="dock"))
        knowledge.ingest(tenant, text(f"# Yard\n\nThe {tenant} yard closes at ten.", document_id="yard"))
    exported = list(knowledge.export("t-gone"))
    assert [(row["kind"], row["document_id"]) for row in exported] == [
        ("document", "dock"),
        ("chunk", "dock"),
        ("document", "yard"),
        ("chunk", "yard"),
    ]
    assert "t-gone dock opens" in exported[0]["text"] and "tenant_id" not in exported[1]

    deleted = knowledge.delete_tenant("t-gone")
    assert (deleted.documents, deleted.chunks) == (2, 2)
    assert knowledge.documents("t-gone") == [] and knowledge.index.chunk_count("t-gone") == 0
    assert knowledge.search("t-gone", "dock opens", top_k=5) == []
    assert [doc.document_id for doc in knowledge.documents("t-kept")] == ["dock", "yard"]
    assert knowledge.index.chunk_count("t-kept") == 2
    assert knowledge.delete_tenant("t-gone").documents == 0  # idempotent
