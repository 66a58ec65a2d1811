"""Retrieval quality and speed of the RAG server's knowledge base on BEIR SciFact.

Every abstract is ingested through `KnowledgeBase.ingest_many` (the code the `ingest_*` tools run:
parsing, chunking, MiniLM embeddings, BM25 weights, Qdrant local mode on disk in a temporary data
directory), then every training query is searched through `KnowledgeBase.search` three ways:
sparse (BM25) only, dense only, and hybrid (RRF). Chunks are mapped to their documents (a
document ranks where its best chunk ranks) and scored against the qrels:

- nDCG@10 and Recall@100 per mode;
- ingestion throughput in chunks per second (wall clock, embedding included);
- query latency p50/p95 of the server's default call (hybrid, top_k=5), embedding included.

Run: `python bench/rag_quality.py [--data ../shared/data/scifact] [--queries N]`
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentmesh.embeddings import EMBEDDING_DIM, sentence_encoder  # noqa: E402
from mcp_servers.rag.index import KnowledgeIndex, SearchMode  # noqa: E402
from mcp_servers.rag.knowledge_base import DocumentInput, KnowledgeBase  # noqa: E402

TENANT = "bench"
MODES: tuple[SearchMode, ...] = ("sparse", "dense", "hybrid")
RANK_DEPTH = 100
CHUNK_DEPTH = 200
INGEST_BATCH = 256  # chunks fetched so that at least RANK_DEPTH distinct documents remain


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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--queries", type=int, default=None, help="evaluate only the first N queries")
    parser.add_argument("--latency-queries", type=int, default=200, help="queries timed for p50/p95")
    args = parser.parse_args()

    corpus, queries, qrels = load(args.data, args.queries)
    print(f"SciFact: {len(corpus)} documents, {len(queries)} training queries with judgements")
    sentence_encoder()  # model load is start-up cost, not ingestion throughput

    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        knowledge = KnowledgeBase(
            KnowledgeIndex.open(path=Path(tmp) / "qdrant", url=None, dimension=EMBEDDING_DIM)
        )
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
        ingest_seconds = time.perf_counter() - started
        print(
            f"ingestion: {len(corpus)} documents -> {chunks} chunks in {ingest_seconds:.1f} s "
            f"= {chunks / ingest_seconds:.1f} chunks/s ({len(corpus) / ingest_seconds:.1f} docs/s)"
        )

        print(f"\n{'mode':<8} {'nDCG@10':>8} {'Recall@100':>11}")
        for mode in MODES:
            ndcgs, recalls = [], []
            for query_id, text in queries.items():
                ranked = ranked_documents(knowledge, text, mode)
                ndcgs.append(ndcg_at(ranked, qrels[query_id]))
                recalls.append(recall_at(ranked, qrels[query_id]))
            print(f"{mode:<8} {statistics.mean(ndcgs):>8.4f} {statistics.mean(recalls):>11.4f}", flush=True)

        timings = []
        for text in list(queries.values())[: args.latency_queries]:
            started = time.perf_counter()
            knowledge.search(TENANT, text, top_k=5)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"\nquery latency (hybrid, top_k=5, {len(timings)} queries, embedding included): "
            f"p50 {percentile(timings, 0.5):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms"
        )
        knowledge.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
