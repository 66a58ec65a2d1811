"""BM25 as Qdrant sparse vectors: we compute the term-frequency side, Qdrant the IDF side.

A document vector holds, for each of its terms, the saturated BM25 term frequency
`tf·(k1+1) / (tf + k1·(1 - b + b·len/avg_len))`; a query vector holds a 1 per distinct term.
The collection's sparse vector is declared with `Modifier.IDF`, so Qdrant multiplies each query
weight by the term's inverse document frequency at search time, and the dot product is the BM25
score. Terms become indices by hashing (32-bit BLAKE2b), so no vocabulary has to be stored or
shared between processes.

`avg_len` is a fixed typical chunk length rather than the live corpus mean: chunks are bounded
in size by the chunker, so the constant is close to the truth, and a vector never has to be
rewritten when other documents arrive.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from mcp_servers.rag.terms import terms


@lru_cache(maxsize=200_000)
def term_index(term: str) -> int:
    """The sparse-vector index of `term` (a stable 31-bit hash)."""
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class SparseWeights:
    """A sparse vector as parallel lists, indices ascending (what Qdrant stores)."""

    indices: list[int]
    values: list[float]

    def __bool__(self) -> bool:
        return bool(self.indices)


@dataclass(frozen=True)
class Bm25Encoder:
    """Turns text into BM25 sparse vectors. `k1` and `b` are the usual BM25 parameters."""

    k1: float = 1.2
    b: float = 0.75
    avg_len: float = 128.0

    def document(self, text: str) -> SparseWeights:
        """The saturated term frequencies of a stored chunk."""
        counts = Counter(terms(text))
        length = sum(counts.values())
        norm = self.k1 * (1.0 - self.b + self.b * length / self.avg_len)
        weights: dict[int, float] = {}
        for term, tf in counts.items():
            index = term_index(term)
            # Two terms hashing alike (rare at 31 bits) simply share one weight.
            weights[index] = weights.get(index, 0.0) + tf * (self.k1 + 1.0) / (tf + norm)
        return _sorted(weights)

    def query(self, text: str) -> SparseWeights:
        """One unit weight per distinct query term; Qdrant applies the IDF."""
        return _sorted({term_index(term): 1.0 for term in set(terms(text))})


def _sorted(weights: dict[int, float]) -> SparseWeights:
    indices = sorted(weights)
    return SparseWeights(indices=indices, values=[weights[i] for i in indices])
