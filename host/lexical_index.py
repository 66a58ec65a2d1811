"""Lexical evidence for routing: how much of a message's vocabulary points to each agent.

Matching is on diacritics-folded words and bigrams (`host.text.terms`), so "cong no" finds an
agent whose examples say "công nợ".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from host.text import is_function_term, terms


class LexicalIndex:
    """Folded-term evidence for each agent, in 0..1.

    An agent's score for a message is the IDF-weighted share of the message's terms that point to
    it; a term used by several agents splits its weight by how often each uses it. Unknown words
    count against every agent (they are evidence the message is about something else); unknown
    bigrams are ignored, since most bigrams of a new phrasing are unseen. Function words are
    taken to occur in at least a quarter of all documents, so a tiny corpus cannot make them rare.
    """

    FUNCTION_TERM_SHARE = 0.25

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        self._agents = len(documents)
        document_frequency: Counter[str] = Counter()
        per_agent: list[Counter[str]] = []
        for agent_documents in documents:
            counts: Counter[str] = Counter()
            for document in agent_documents:
                counts.update(set(terms(document)))
            per_agent.append(counts)
            document_frequency.update(counts)
        self._total = sum(len(agent_documents) for agent_documents in documents)
        self._unknown_idf = self._inverse_frequency(0.0)
        self._function_idf = self._inverse_frequency(self.FUNCTION_TERM_SHARE * self._total)
        self._idf = {
            term: min(self._inverse_frequency(n), self._function_idf)
            if is_function_term(term)
            else self._inverse_frequency(n)
            for term, n in document_frequency.items()
        }
        sizes = np.array([max(len(agent_documents), 1) for agent_documents in documents], dtype=np.float64)
        self._share: dict[str, np.ndarray] = {}
        for term in document_frequency:
            rates = np.array([counts[term] for counts in per_agent], dtype=np.float64) / sizes
            self._share[term] = rates / rates.sum()

    def _inverse_frequency(self, count: float) -> float:
        return math.log(1 + (self._total - count + 0.5) / (count + 0.5))

    def score(self, text: str) -> np.ndarray:
        """Per-agent lexical evidence for `text`, each in 0..1."""
        message_terms = set(terms(text))
        evidence = np.zeros(self._agents)
        mass = 0.0
        for term in message_terms:
            idf = self._idf.get(term)
            if idf is not None:
                evidence += idf * self._share[term]
                mass += idf
            elif " " not in term:
                mass += self._function_idf if is_function_term(term) else self._unknown_idf
        return evidence / mass if mass > 0 else evidence
