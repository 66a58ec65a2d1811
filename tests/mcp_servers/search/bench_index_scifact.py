"""Retrieval quality and speed of the local page index (SQLite FTS5, BM25) on BEIR SciFact.

    python -m tests.mcp_servers.search.bench_index_scifact [--data ../shared/data/scifact]

Indexes the 5,183 abstracts as pages of one tenant, runs the 809 training claims through
`PageIndex.search`, and prints nDCG@10 and Recall@100 (binary relevance, BEIR's definitions),
indexing throughput and query latency. Published BM25 nDCG@10 on SciFact is 0.665-0.69.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import anyio

from mcp_servers.search.index import PageIndex
from mcp_servers.search.pages import Page

DEFAULT_DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "scifact"
TENANT = "bench"


def _load(data: Path) -> tuple[list[dict[str, str]], dict[str, str], dict[str, set[str]]]:
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").open(encoding="utf-8")]
    queries = {row["_id"]: row["text"] for row in map(json.loads, (data / "queries_train.jsonl").open())}
    relevant: dict[str, set[str]] = defaultdict(set)
    for line in (data / "qrels_train.tsv").read_text().splitlines()[1:]:
        query_id, doc_id, score = line.split("\t")
        if int(score) > 0:
            relevant[query_id].add(doc_id)
    return corpus, queries, relevant


def ndcg_at(ranked: list[str], relevant: set[str], k: int) -> float:
    gains = sum(1 / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return gains / ideal if ideal else 0.0


async def main(data: Path) -> None:
    corpus, queries, relevant = _load(data)
    with tempfile.TemporaryDirectory() as directory:
        index = PageIndex(Path(directory))
        started = time.perf_counter()
        now = datetime.now(UTC)
        for doc in corpus:
            url = f"scifact:{doc['_id']}"
            await index.add(
                TENANT,
                Page(
                    url=url, final_url=url, title=doc["title"], fetched_at=now, kind="text", text=doc["text"]
                ),
            )
        indexing = time.perf_counter() - started
        ndcgs, recalls, latencies, modes = [], [], [], defaultdict(int)
        for query_id, docs in relevant.items():
            started = time.perf_counter()
            found = await index.search(TENANT, queries[query_id], 100)
            latencies.append(time.perf_counter() - started)
            ranked = [hit.url.removeprefix("scifact:") for hit in found.hits]
            modes[found.match] += 1
            ndcgs.append(ndcg_at(ranked, docs, 10))
            recalls.append(len(docs & set(ranked)) / len(docs))
    latencies.sort()
    print(f"documents {len(corpus)}, queries {len(ndcgs)}, match modes {dict(modes)}")
    print(f"nDCG@10    {statistics.mean(ndcgs):.4f}")
    print(f"Recall@100 {statistics.mean(recalls):.4f}")
    print(f"indexing   {len(corpus) / indexing:.0f} pages/s ({indexing:.1f} s, one transaction per page)")
    print(
        f"query      p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms (top 100, incl. snippets)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    anyio.run(main, parser.parse_args().data)
