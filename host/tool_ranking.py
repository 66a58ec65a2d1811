"""Ranking an agent's tools by fit to a message.

Used twice: the local planner picks the best-fitting tool, and before a turn with an LLM the host
keeps only the top few tools (a long tool list costs tokens and confuses models). The score is
the cosine similarity of the message to the tool's name and description (all-MiniLM-L6-v2), a
lexical bonus for shared words, a bonus for free-text tools (they fit any message of their
agent), and a small bonus for the tool's declared priority (1 = the agent's primary tool).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from agentmesh.embeddings import embed
from host.arguments import FREE_TEXT_NAMES, named_in, schema_type
from host.catalog import ToolSpec
from host.routing import MessageEmbedding
from host.text import looks_vietnamese, only_identifiers, terms

_FREE_TEXT_BONUS = 0.25
_LEXICAL_WEIGHT = 0.15
# The encoder finds any two Vietnamese texts alike (it matches the language, not the meaning), so
# for a Vietnamese message the words shared with a tool's Vietnamese description weigh more.
_VIETNAMESE_LEXICAL_WEIGHT = 0.5
_PRIORITY_WEIGHT = 0.05

Encoder = Callable[[Sequence[str]], np.ndarray]


def tool_text(tool: ToolSpec) -> str:
    """What the encoder reads of a tool."""
    return f"{tool.name.replace('_', ' ')}. {tool.description}"


def takes_the_message(tool: ToolSpec) -> bool:
    """Whether the tool's first required input is free text, so the whole message becomes its argument.

    Such tools (search a knowledge base, ask a question) fit any message of their agent, even
    when their description shares no words with it.
    """
    properties = tool.input_schema.get("properties", {})
    for name in tool.input_schema.get("required", []):
        prop = properties.get(name, {})
        if schema_type(prop) == "string" and not (
            {"pattern", "enum", "format", "contentEncoding"} & prop.keys()
        ):
            return name.lower() in FREE_TEXT_NAMES
    return False


def _priority_bonus(tool: ToolSpec) -> float:
    priority = tool.render.get("priority") or 0
    return _PRIORITY_WEIGHT / priority if isinstance(priority, int) and priority > 0 else 0.0


def _free_text_bonus(tool: ToolSpec) -> float:
    return _FREE_TEXT_BONUS if takes_the_message(tool) else 0.0


class ToolRanker:
    """Scores tools against messages; tool vectors are computed once per tool definition."""

    def __init__(self, encoder: Encoder = embed) -> None:
        self._encoder = encoder
        self._vectors: dict[str, np.ndarray] = {}
        self._terms: dict[str, frozenset[str]] = {}

    def _tool_vectors(self, tools: Sequence[ToolSpec]) -> list[np.ndarray]:
        missing = [tool for tool in tools if self._key(tool) not in self._vectors]
        if missing:
            for tool, vector in zip(missing, self._encoder([tool_text(t) for t in missing]), strict=True):
                self._vectors[self._key(tool)] = vector
                self._terms[self._key(tool)] = frozenset(terms(tool_text(tool)))
        return [self._vectors[self._key(tool)] for tool in tools]

    @staticmethod
    def _key(tool: ToolSpec) -> str:
        return f"{tool.qualified_name}:{tool.definition_hash}"

    def rank(
        self, message: str, tools: Sequence[ToolSpec], *, embedding: MessageEmbedding | None = None
    ) -> list[tuple[float, ToolSpec]]:
        """`tools` with their scores, best first (a lone tool is not scored: nothing to rank it against).

        `embedding` is the message's embedding when the turn already has it (routing computed it);
        it is reused when it came from this ranker's encoder, else the message is encoded here.
        """
        if len(tools) <= 1:
            return [(1.0, tool) for tool in tools]
        if only_identifiers(message):
            # A bare identifier ("3428557611", "SO-A5001") says nothing the encoder can weigh: the
            # tools it fills come first, the agent's primary tool first among them.
            by_fit = [
                (float(named_in(tool.input_schema, message) is not None) + _priority_bonus(tool), tool)
                for tool in tools
            ]
            return sorted(by_fit, key=lambda item: item[0], reverse=True)
        vectors = self._tool_vectors(tools)
        query = self._query_vector(message, embedding)
        # A tool that takes any text fits any message of its agent, but not better than one the
        # message fills through an identifier it names ("Fetch the page https://…": fetch_page,
        # not a web search for those words).
        names_a_tool = any(named_in(tool.input_schema, message) is not None for tool in tools)
        words = set(terms(message))
        lexical_weight = _VIETNAMESE_LEXICAL_WEIGHT if looks_vietnamese(message) else _LEXICAL_WEIGHT
        ranked = []
        for tool, vector in zip(tools, vectors, strict=True):
            tool_words = self._terms[self._key(tool)]
            lexical = len(words & tool_words) / (len(tool_words) ** 0.5 or 1.0)
            score = float(np.dot(query, vector)) + lexical_weight * lexical + _priority_bonus(tool)
            ranked.append((score + (0.0 if names_a_tool else _free_text_bonus(tool)), tool))
        ranked.sort(key=lambda item: item[0], reverse=True)
        return ranked

    def relevance(
        self, message: str, passages: Sequence[str], *, embedding: MessageEmbedding | None = None
    ) -> list[float]:
        """The cosine similarity of the message to each passage (the same encoder as ranking)."""
        query = self._query_vector(message, embedding)
        return [float(score) for score in self._encoder(list(passages)) @ query]

    def _query_vector(self, message: str, embedding: MessageEmbedding | None) -> np.ndarray:
        if embedding is not None and embedding.encoder is self._encoder:
            return embedding.vector
        return self._encoder([message])[0]

    def top(
        self,
        message: str,
        tools: Sequence[ToolSpec],
        limit: int,
        *,
        embedding: MessageEmbedding | None = None,
    ) -> list[ToolSpec]:
        """The `limit` best-fitting tools (all of them when there are no more than `limit`)."""
        if len(tools) <= limit:
            return list(tools)
        return [tool for _, tool in self.rank(message, tools, embedding=embedding)[:limit]]
