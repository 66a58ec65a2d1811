"""Retrieval quality and speed of the RAG server's knowledge base on BEIR SciFact.

Every abstract is ingested through `KnowledgeBase.ingest_many` (the code the `ingest_*` tools run:
parsing, chunking, MiniLM embeddings, BM25 weights, Qdrant local mode on disk in a fresh temporary
directory), then every training query is searched through `KnowledgeBase.search` three ways:
sparse (BM25) only, dense only, and hybrid (DBSF fusion). Chunks are mapped to their documents (a
document ranks where its best chunk ranks) and scored against the qrels:

- nDCG@10 and Recall@100 per mode;
- ingestion throughput in chunks per second (wall clock: parsing, embedding, BM25, writing);
- query latency p50/p95 per mode of the server's default call (`top_k=5`), query embedding
  included, each query timed on its own;
- where a query's time goes: its pieces (embedding, sparse scoring, tenant filter, per-tenant
  IDF, dense scoring) timed one by one against the same index.

Nothing is cached between runs: the index is built from scratch every time, and the load average
is printed at the start and the end, because the machine is shared and the times depend on it.

Both embedded engines are measured by default (`--engine local|edge|both`): Qdrant local mode
(the default engine, pure Python) and Qdrant Edge (Qdrant's Rust engine in process,
`AGENTMESH_RAG_ENGINE=edge`). With both, the second engine reuses the first one's embeddings,
so its ingestion figure is the index's own cost, not the model's.

Run: `python bench/rag_quality.py [--data ../shared/data/scifact] [--queries N] [--documents N]
[--engine local|edge|both] [--max-words W --overlap-words O]`
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import structlog
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qdrant_client import models  # noqa: E402

from agentmesh.embeddings import EMBEDDING_DIM, embed, sentence_encoder  # noqa: E402
from mcp_servers.rag.bm25 import Bm25Encoder  # noqa: E402
from mcp_servers.rag.chunking import DEFAULT_MAX_WORDS, DEFAULT_OVERLAP_WORDS  # noqa: E402
from mcp_servers.rag.edge_index import EdgeKnowledgeIndex  # noqa: E402
from mcp_servers.rag.engine import CHUNKS, DENSE, SPARSE, TENANT_FIELD, KnowledgeEngine, SearchMode  # noqa: E402
from mcp_servers.rag.index import KnowledgeIndex  # noqa: E402
from mcp_servers.rag.knowledge_base import DocumentInput, KnowledgeBase  # noqa: E402

TENANT = "bench"
MODES: tuple[SearchMode, ...] = ("sparse", "dense", "hybrid")
RANK_DEPTH = 100
CHUNK_DEPTH = 200  # chunks fetched so that at least RANK_DEPTH distinct documents remain
INGEST_BATCH = 256
SERVER_TOP_K = 5


def load(
    data: Path, limit: int | None
) -> tuple[list[dict[str, str]], dict[str, str], dict[str, dict[str, int]]]:
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").open(encoding="utf-8")]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (data / "qrels_train.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels[row["query-id"]][row["corpus-id"]] = int(row["score"])
    queries = {}
    for line in (data / "queries_train.jsonl").open(encoding="utf-8"):
        query = json.loads(line)
        if query["_id"] in qrels:
            queries[query["_id"]] = query["text"]
    if limit:
        queries = dict(list(queries.items())[:limit])
    return corpus, queries, qrels


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(grade / math.log2(i + 2) for i, grade in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int = 100) -> float:
    wanted = {doc for doc, grade in relevant.items() if grade > 0}
    return len(wanted.intersection(ranked[:k])) / len(wanted) if wanted else 0.0


def ranked_documents(knowledge: KnowledgeBase, query: str, mode: SearchMode) -> list[str]:
    documents: list[str] = []
    for hit in knowledge.search(TENANT, query, top_k=CHUNK_DEPTH, mode=mode):
        if hit.document_id not in documents:
            documents.append(hit.document_id)
    return documents[:RANK_DEPTH]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class RememberedEmbeddings:
    """The model's embeddings, each text computed once, so a second engine's ingestion skips the model."""

    def __init__(self) -> None:
        self._vectors: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, embed(missing), strict=True))
        return np.array([self._vectors[text] for text in texts])


def open_index(engine: str, path: Path) -> KnowledgeEngine:
    if engine == "edge":
        return EdgeKnowledgeIndex.open(path=path, dimension=EMBEDDING_DIM)
    return KnowledgeIndex.open(path=path, url=None, dimension=EMBEDDING_DIM)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"


def ingest(knowledge: KnowledgeBase, corpus: list[dict[str, str]], threads: int) -> None:
    # The server pins one torch thread per process (every mesh process encodes); a bulk load
    # with the machine to itself may use more.
    torch.set_num_threads(threads)
    started = time.perf_counter()
    chunks = 0
    for start in range(0, len(corpus), INGEST_BATCH):
        uploads = [
            DocumentInput(
                data=doc["text"].encode("utf-8"),
                title=doc["title"],
                source_type="text",
                document_id=doc["_id"],
            )
            for doc in corpus[start : start + INGEST_BATCH]
        ]
        chunks += sum(report.document.chunk_count for report in knowledge.ingest_many(TENANT, uploads))
        print(f"  ingested {start + len(uploads)}/{len(corpus)} documents, {chunks} chunks", flush=True)
    seconds = time.perf_counter() - started
    torch.set_num_threads(1)
    print(
        f"ingestion (encoder {sentence_encoder().name}; {threads} torch threads, used by the torch "
        f"encoder only): {len(corpus)} documents -> {chunks} chunks in "
        f"{seconds:.1f} s = {chunks / seconds:.1f} chunks/s ({len(corpus) / seconds:.1f} docs/s)"
    )


def quality(knowledge: KnowledgeBase, queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> None:
    print(f"\n{'mode':<8} {'nDCG@10':>8} {'Recall@100':>11}   ({len(queries)} queries)")
    for mode in MODES:
        ndcgs, recalls = [], []
        for query_id, text in queries.items():
            ranked = ranked_documents(knowledge, text, mode)
            ndcgs.append(ndcg_at(ranked, qrels[query_id]))
            recalls.append(recall_at(ranked, qrels[query_id]))
        print(f"{mode:<8} {statistics.mean(ndcgs):>8.4f} {statistics.mean(recalls):>11.4f}", flush=True)


def latency(knowledge: KnowledgeBase, texts: list[str]) -> None:
    print(f"\nquery latency, top_k={SERVER_TOP_K}, {len(texts)} queries per mode, query embedding included:")
    for mode in MODES:
        timings = []
        for text in texts:
            started = time.perf_counter()
            knowledge.search(TENANT, text, top_k=SERVER_TOP_K, mode=mode)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"  {mode:<8} p50 {percentile(timings, 0.5):7.1f} ms   p95 {percentile(timings, 0.95):7.1f} ms",
            flush=True,
        )


def breakdown(knowledge: KnowledgeBase, texts: list[str]) -> None:
    """Where a query's time goes: the pieces of the server's query timed one by one.

    These probes call Qdrant directly (top 100, no payload), adding one piece at a time to a
    bare sparse or dense query, so each difference is what that piece costs.
    """
    assert isinstance(knowledge.index, KnowledgeIndex)
    client = knowledge.index._client  # the same client the searches above went through
    encoder = Bm25Encoder()
    tenant = models.Filter(
        must=[models.FieldCondition(key=TENANT_FIELD, match=models.MatchValue(value=TENANT))]
    )
    per_tenant_idf = models.SearchParams(idf=models.IdfCorpusParams(corpus=tenant))

    def sparse(text: str) -> models.SparseVector:
        weights = encoder.query(text)
        return models.SparseVector(indices=weights.indices, values=weights.values)

    probes: dict[str, Callable[[str], object]] = {
        "query embedding (MiniLM, 1 thread)": lambda text: embed([text]),
        "sparse: score every chunk": lambda text: client.query_points(
            CHUNKS, query=sparse(text), using=SPARSE, limit=RANK_DEPTH, with_payload=False
        ),
        "sparse: + tenant filter": lambda text: client.query_points(
            CHUNKS,
            query=sparse(text),
            using=SPARSE,
            query_filter=tenant,
            limit=RANK_DEPTH,
            with_payload=False,
        ),
        "sparse: + per-tenant IDF (server's leaf)": lambda text: client.query_points(
            CHUNKS,
            query=sparse(text),
            using=SPARSE,
            query_filter=tenant,
            search_params=per_tenant_idf,
            limit=RANK_DEPTH,
            with_payload=False,
        ),
        "dense: score every chunk": lambda text: client.query_points(
            CHUNKS, query=embed([text])[0].tolist(), using=DENSE, limit=RANK_DEPTH, with_payload=False
        ),
        "dense: + tenant filter (server's leaf)": lambda text: client.query_points(
            CHUNKS,
            query=embed([text])[0].tolist(),
            using=DENSE,
            query_filter=tenant,
            limit=RANK_DEPTH,
            with_payload=False,
        ),
    }
    print(f"\nwhere the time goes ({len(texts)} queries each, p50; dense probes include the embedding):")
    for name, probe in probes.items():
        timings = []
        for text in texts:
            started = time.perf_counter()
            probe(text)
            timings.append((time.perf_counter() - started) * 1000)
        print(f"  {name:<42} {percentile(timings, 0.5):7.1f} ms", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--queries", type=int, default=None, help="evaluate only the first N queries")
    parser.add_argument(
        "--documents", type=int, default=None, help="ingest only the first N documents (a smoke test)"
    )
    parser.add_argument("--latency-queries", type=int, default=200, help="queries timed per mode")
    parser.add_argument("--ingest-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-words", type=int, default=DEFAULT_MAX_WORDS, help="chunk size in words")
    parser.add_argument("--overlap-words", type=int, default=DEFAULT_OVERLAP_WORDS)
    parser.add_argument("--engine", choices=["local", "edge", "both"], default="both")
    args = parser.parse_args()
    # One line per ingested document would drown the figures.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    corpus, queries, qrels = load(args.data, args.queries)
    corpus = corpus[: args.documents]
    print(f"SciFact: {len(corpus)} documents, {len(queries)} training queries with judgements")
    print(f"chunks of at most {args.max_words} words, {args.overlap_words} words of overlap")
    print(f"load average at start: {load_average()}")
    sentence_encoder()  # model load is start-up cost, not ingestion throughput

    embeddings = RememberedEmbeddings()
    engines = ["local", "edge"] if args.engine == "both" else [args.engine]
    for position, engine in enumerate(engines):
        print(f"\n== engine: {engine}" + (" (embeddings reused from the first engine)" if position else ""))
        with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
            index = open_index(engine, Path(tmp))
            # Ingestion may reuse remembered vectors; searches always embed their query afresh.
            chunking = {"max_words": args.max_words, "overlap_words": args.overlap_words}
            knowledge = KnowledgeBase(index, **chunking)
            try:
                ingest(KnowledgeBase(index, embedder=embeddings, **chunking), corpus, args.ingest_threads)
                print(f"load average after ingestion: {load_average()}")
                quality(knowledge, queries, qrels)
                latency(knowledge, list(queries.values())[: args.latency_queries])
                if engine == "local":
                    breakdown(knowledge, list(queries.values())[: args.latency_queries // 4])
            finally:
                knowledge.close()
    print(f"\nload average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
