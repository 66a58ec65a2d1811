"""The knowledge base in process, on Qdrant local mode in a temporary directory.

These pin what the server relies on beneath the MCP layer: every read is scoped to the tenant
(including BM25's statistics), failed writes leave the previous version intact, and ingestion
jobs report monotone progress to their own tenant only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import models

from agentmesh.embeddings import EMBEDDING_DIM, embed
from mcp_servers.rag.chunking import Chunk
from mcp_servers.rag.errors import InvalidFilter, JobNotFound
from mcp_servers.rag.index import CHUNKS, DENSE, DOCUMENTS, KnowledgeIndex, SearchMode
from mcp_servers.rag.jobs import IngestJob, IngestJobs
from mcp_servers.rag.knowledge_base import DocumentInput, KnowledgeBase, indexed_text


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    path: Path = tmp_path_factory.mktemp("kb") / "qdrant"
    kb = KnowledgeBase(KnowledgeIndex.open(path=path, url=None, dimension=EMBEDDING_DIM))
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
    client = knowledge.index._client
    real_upsert = client.upsert

    def disk_full(collection_name: str, points: Any, **kwargs: Any) -> Any:
        if collection_name == DOCUMENTS:
            raise OSError("disk full")
        return real_upsert(collection_name, points, **kwargs)

    monkeypatch.setattr(client, "upsert", disk_full)
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
    records, _ = knowledge.index._client.scroll(
        CHUNKS,
        scroll_filter=models.Filter(
            must=[models.FieldCondition(key="tenant_id", match=models.MatchValue(value="t-embed"))]
        ),
        limit=100,
        with_payload=True,
        with_vectors=[DENSE],
    )
    assert len(records) == 7
    texts = [
        indexed_text(
            record.payload["title"],
            Chunk(
                record.payload["chunk_index"],
                record.payload["text"],
                tuple(filter(None, [record.payload["heading"]])),
            ),
        )
        for record in records
        if record.payload is not None
    ]
    stored = np.array([record.vector[DENSE] for record in records if isinstance(record.vector, dict)])
    similarity = stored @ embed(texts).T
    assert list(similarity.argmax(axis=1)) == list(range(len(records)))
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


def test_jobs_report_progress_and_belong_to_their_tenant(knowledge: KnowledgeBase) -> None:
    jobs = IngestJobs(knowledge.ingest)
    body = "\n\n".join(f"## Part {n}\n\nPart {n} explains step {n} of the assembly." for n in range(40))
    job = jobs.submit("t-jobs-a", text(body, title="Assembly", document_id="assembly"))
    seen: list[IngestJob] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        seen.append(jobs.status("t-jobs-a", job.job_id))
        if seen[-1].state in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    jobs.shutdown()
    assert seen[-1].state == "succeeded", seen[-1].error
    assert seen[-1].result is not None and seen[-1].result.document.chunk_count == 40
    assert [s.progress for s in seen] == sorted(s.progress for s in seen)
    with pytest.raises(JobNotFound):
        jobs.status("t-jobs-b", job.job_id)


def test_a_failing_job_reports_the_reason(knowledge: KnowledgeBase) -> None:
    jobs = IngestJobs(knowledge.ingest)
    job = jobs.submit("t-jobs-c", DocumentInput(data=b"%PDF-1.4 broken", source_type="pdf"))
    jobs.shutdown()
    final = jobs.status("t-jobs-c", job.job_id)
    assert final.state == "failed"
    assert final.error is not None and "the PDF could not be read" in final.error
