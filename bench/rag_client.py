"""The RAG server driven as an MCP client drives it: over stdio, one document per `ingest_text` call.

    python bench/rag_client.py [--documents 5183] [--queries 300] [--slice 500]

Launches `agentmesh serve rag --transport stdio` with the MCP SDK's own client on a fresh data
directory, ingests the SciFact abstracts one `ingest_text` call at a time (as an assistant adding
documents one by one does), then sends `search` calls with the server's default `top_k=5` and
with `top_k=10` for nDCG@10 over the training queries whose judged documents were all ingested.

The baseline is the run's own start: ingestion speed is printed per slice of `--slice`
documents, and the last slice's rate as a ratio of the first's. A server whose per-document
cost grows with the collection (re-reading the index, recomputing statistics over every chunk)
shows it there as a ratio well under 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio
from mcp import Client

from bench.rag_quality import ROOT, load, ndcg_at, percentile
from bench.stdio_start import server_parameters


async def ingest(client: Client, corpus: list[dict[str, str]], every: int) -> None:
    """One `ingest_text` call per document; documents per second per slice of `every`."""
    rates: list[float] = []
    started = slice_started = time.perf_counter()
    for count, document in enumerate(corpus, start=1):
        arguments = {
            "title": document["title"] or document["_id"],
            "text": document["text"] or "(empty)",
            "document_id": f"d{document['_id']}",
        }
        result = await client.call_tool("ingest_text", arguments)
        if result.is_error:
            raise RuntimeError(f"ingest_text {document['_id']} failed: {result.content}")
        if count % every == 0 or count == len(corpus):
            now = time.perf_counter()
            size = count - len(rates) * every
            rates.append(size / (now - slice_started))
            print(f"  {count:5d} documents: {rates[-1]:6.1f} documents/s over the last {size}", flush=True)
            slice_started = now
    total = time.perf_counter() - started
    print(f"ingestion: {len(corpus)} documents in {total:.1f} s = {len(corpus) / total:.1f} documents/s")
    print(f"  last slice / first slice: {rates[-1] / rates[0]:.2f}x")


async def search(client: Client, judged: list[tuple[str, str]], qrels: dict[str, dict[str, int]]) -> None:
    """The server's default search timed per call; nDCG@10 from a top-10 search of each query."""
    latencies: list[float] = []
    scores: list[float] = []
    for query_id, text in judged:
        began = time.perf_counter()
        result = await client.call_tool("search", {"query": text})
        latencies.append((time.perf_counter() - began) * 1000)
        deep = await client.call_tool("search", {"query": text, "top_k": 10})
        if result.is_error or deep.is_error:
            raise RuntimeError(f"search failed: {result.content or deep.content}")
        hits = (deep.structured_content or {}).get("results", [])
        ranked = list(dict.fromkeys(hit["document_id"].removeprefix("d") for hit in hits))
        scores.append(ndcg_at(ranked, qrels[query_id]))
    print(
        f"search (top_k=5, over stdio): p50 {percentile(latencies, 0.5):.1f} ms,"
        f" p95 {percentile(latencies, 0.95):.1f} ms"
    )
    print(f"  nDCG@10 over the top 10 passages: {statistics.fmean(scores):.4f}")


async def run(args: argparse.Namespace) -> None:
    corpus, queries, qrels = load(args.data, None)
    corpus = corpus[: args.documents]
    ingested = {document["_id"] for document in corpus}
    judged = [(query_id, text) for query_id, text in queries.items() if set(qrels[query_id]) <= ingested]
    judged = judged[: args.queries]
    print(f"load average {os.getloadavg()[0]:.2f}; {len(corpus)} documents, {len(judged)} queries")
    with tempfile.TemporaryDirectory(prefix="rag-client-") as data_dir:
        async with Client(server_parameters("rag", Path(data_dir)), mode="legacy") as client:
            await ingest(client, corpus, args.slice)
            await search(client, judged, qrels)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--documents", type=int, default=5183)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--slice", type=int, default=500)
    anyio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
