"""Supervisor routing: which agent should handle a message, or which question to ask back.

Each agent is scored on three signals:

- **examples**: all-MiniLM-L6-v2 cosine similarity of the message to the agent's nearest example
  requests in the message's language (a weighted mean of the best few, so one lucky neighbour
  does not decide alone), optionally adjusted for how crowded each example's neighbourhood is
  (`RouterSettings.density_weight`);
- **description**: cosine similarity to the agent's description;
- **lexical**: the share of the message's IDF mass that the agent's description, examples and
  keywords explain, over diacritics-folded words and bigrams.

The encoder is English-centred: it finds any two Vietnamese sentences alike. For a Vietnamese
message (accented or not) the semantic signals are therefore re-based to the agent's lead over the
others and the lexical signal weighs more; a strong lexical match is enough on its own anywhere.

The blend goes through a logistic curve fitted on labelled data (`host.routing_calibration`), giving scores in
0..1 that compare across agents. Below `threshold`, or with the runner-up within `margin`, the
router asks a clarifying question naming the candidates instead of guessing. A message whose parts
(split on "and", "và", ";", "?", ...) belong to different agents comes back as those parts, each
with its agent, when every part is clear, and as a question naming them when one is not
(`host.intents`).

A `Router` embeds its agents once at construction; `route` costs one encoder call plus vector
math. Build a new `Router` when agent configurations change.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentmesh.embeddings import embed
from host.intents import RoutedPart, by_agent, split_intents
from host.lexical_index import LexicalIndex
from host.replies import clarifying_question
from host.similarity import cosine, unit_rows
from host.text import looks_vietnamese, words

Encoder = Callable[[Sequence[str]], np.ndarray]
RouteReason = Literal["confident", "low_confidence", "ambiguous", "multiple_intents", "empty"]


class AgentProfile(BaseModel):
    """What the router knows of one agent."""

    name: str = Field(min_length=1)
    description: str = ""
    examples: list[str] = []
    keywords: list[str] = []

    @model_validator(mode="after")
    def _something_to_match(self) -> AgentProfile:
        if not self.description.strip() and not any(example.strip() for example in self.examples):
            raise ValueError(f"agent '{self.name}' needs a description or examples to be routed to")
        return self


class RouteCandidate(BaseModel):
    """One agent the message may be meant for, with its calibrated score (0..1)."""

    agent: str
    score: float


@dataclass(frozen=True)
class MessageEmbedding:
    """A message's vector and the encoder that produced it: reusable only with that same encoder."""

    vector: np.ndarray
    encoder: Encoder


class RouteDecision(BaseModel):
    """The router's answer: an agent, a clarifying question naming the candidates, or (reason
    `multiple_intents`, not clarifying) the message's parts, each with the agent that answers it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    agent: str | None
    candidates: list[RouteCandidate]
    clarify: bool
    reason: RouteReason
    question: str | None
    parts: list[RoutedPart] = Field(default_factory=list)
    unclear_parts: list[str] = Field(default_factory=list)
    """The parts of a several-request message that no agent clearly answers (reason `multiple_intents`)."""
    # The message's embedding, for the rest of its turn (tool ranking) to reuse; never serialised.
    embedding: MessageEmbedding | None = Field(default=None, exclude=True, repr=False)


class RouterSettings(BaseModel):
    """Weights, calibration curve and decision thresholds.

    The defaults were calibrated by `bench/routing.py --density-weight 0 --recall-confidence 0` on
    the CLINC150 training split (see bench/README.md); `host.routing_calibration.calibrate` refits
    `semantic_background`, `score_slope`, `score_offset`, `threshold` and `margin` for another set
    of agents.

    - `threshold`: the calibrated score (0..1) below which the router asks instead of routing.
    - `margin`: when the runner-up is within this of the best, the router asks which one was
      meant. Measured on the uncalibrated blend, because the curve saturates near 1.
    - `neighbour_weights`: how the nearest examples of an agent are averaged, nearest first.
    - `examples_per_neighbour`: an agent's score averages one nearest example per this many
      examples (at most `len(neighbour_weights)`): an agent with a handful of examples has about
      one per kind of request, so only the nearest one is relevant.
    - `vietnamese_lexical_weight`: the lexical share of the blend for Vietnamese messages, whose
      encoder similarities say little (the other weights set the English blend).
    - `lexical_alone_weight`: a strong lexical match suffices on its own; an agent's score is at
      least this fraction of its lexical evidence, so keywords can carry an agent whose examples
      the encoder does not relate to the message.
    - `semantic_background`: the similarity an English message typically has to agents it is not
      for. The encoder inflates every similarity of a Vietnamese message (it matches the language,
      not the meaning), so those are re-based: an agent keeps only its lead over the other agents'
      average, on top of this background.
    - `density_weight`: an example in a tight cluster of like examples (ten phrasings of "what's the
      weather") is near every message about that thing, so nearness to it proves less than
      nearness to an example with no close fellows. Each example's similarity is lowered by this
      weight times its local density (the mean similarity to its `density_neighbours` nearest
      fellow examples of the same agent and language) above the average density. Out-of-scope
      messages sit near the crowded examples, so this separates them better at the same in-scope
      accuracy: `bench/routing.py` sets 0.5 (chosen by cross-validation on CLINC150's training
      split, bench/README.md). Off by default: the default curve was fitted without it, the
      demo's agents are too small for it, and it shifts raw scores, so turn it on together with a
      calibration (`host.routing_calibration.calibrate`). Applied only in a pool of at least
      `density_min_examples` examples: a handful of examples is one per kind of request, with no
      neighbourhood to measure.
    - `part_lexical_evidence`: a message split into parts routed confidently to different agents
      is a multiple-intent message only if each part's lexical evidence for its agent reaches this
      and the whole message also scores each of those agents at least `part_support` (so "my card
      was declined and I don't know why" stays one request). That support is below `threshold`:
      in "debt of MST 3467871860 and has SH-1005 arrived?" the longer part dominates the whole.
    """

    model_config = ConfigDict(frozen=True)

    example_weight: float = Field(default=0.75, ge=0)
    description_weight: float = Field(default=0.05, ge=0)
    lexical_weight: float = Field(default=0.2, ge=0)
    neighbour_weights: tuple[float, ...] = Field(default=(0.5, 0.3, 0.2), min_length=1)
    examples_per_neighbour: int = Field(default=10, ge=1)
    vietnamese_lexical_weight: float = Field(default=0.5, ge=0, le=1)
    lexical_alone_weight: float = Field(default=0.55, ge=0, le=1)
    semantic_background: float = Field(default=0.2777, ge=-1, le=1)
    density_weight: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    density_neighbours: int = Field(default=5, ge=1)
    density_min_examples: int = Field(default=20, ge=2)
    part_lexical_evidence: float = Field(default=0.5, ge=0, le=1)
    part_support: float = Field(default=0.5, ge=0, le=1)
    score_slope: float = Field(default=13.3233, gt=0)
    score_offset: float = 0.2817
    threshold: float = Field(default=0.6359, ge=0, le=1)
    margin: float = Field(default=0.0, ge=0, le=1)
    max_candidates: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _weights_present(self) -> RouterSettings:
        if self.example_weight + self.description_weight + self.lexical_weight <= 0:
            raise ValueError("at least one of example_weight, description_weight, lexical_weight must be > 0")
        if any(weight < 0 for weight in self.neighbour_weights) or sum(self.neighbour_weights) <= 0:
            raise ValueError("neighbour_weights must be non-negative with a positive sum")
        return self

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        """Map blended similarities to 0..1 scores along the fitted logistic curve."""
        return 1.0 / (1.0 + np.exp(-self.score_slope * (raw - self.score_offset)))


@dataclass(frozen=True)
class Evidence:
    """Per-agent scores of some texts (one row each), before calibration."""

    raw: np.ndarray
    lexical: np.ndarray
    neighbours: np.ndarray
    vectors: np.ndarray

    def rows(self, start: int, end: int) -> Evidence:
        return Evidence(
            raw=self.raw[start:end],
            lexical=self.lexical[start:end],
            neighbours=self.neighbours[start:end],
            vectors=self.vectors[start:end],
        )


def _texts_to_score(message: str) -> list[str]:
    """The message, followed by its parts when it has more than one."""
    parts = split_intents(message)
    return [message, *parts] if len(parts) > 1 else [message]


class Router:
    """Routes messages to agents; built once per set of agent configurations."""

    def __init__(
        self,
        agents: Sequence[AgentProfile],
        *,
        settings: RouterSettings | None = None,
        encoder: Encoder = embed,
    ) -> None:
        if not agents:
            raise ValueError("a router needs at least one agent")
        duplicates = sorted(name for name, n in Counter(agent.name for agent in agents).items() if n > 1)
        if duplicates:
            raise ValueError(f"agent names must be unique; repeated: {', '.join(duplicates)}")
        self.agents: tuple[AgentProfile, ...] = tuple(agents)
        self.settings = settings or RouterSettings()
        self._encoder = encoder
        # An agent without examples is matched on its description in the examples slot too.
        example_texts = [
            [example for example in agent.examples if example.strip()] or [agent.description]
            for agent in self.agents
        ]
        vectors = unit_rows(encoder([agent.description for agent in self.agents] + _flatten(example_texts)))
        self._descriptions = vectors[: len(self.agents)]
        self._examples = vectors[len(self.agents) :]
        bounds = np.cumsum([0] + [len(texts) for texts in example_texts])
        self._example_slices = [slice(int(start), int(end)) for start, end in itertools.pairwise(bounds)]
        self._example_vietnamese = np.array([looks_vietnamese(text) for text in _flatten(example_texts)])
        self._density = self._example_density()
        self._lexical = LexicalIndex(
            [[agent.description, *agent.examples, *agent.keywords] for agent in self.agents]
        )

    @property
    def names(self) -> list[str]:
        """Agent names, in construction order (the column order of score matrices)."""
        return [agent.name for agent in self.agents]

    def with_settings(self, settings: RouterSettings) -> Router:
        """A router over the same agents and embeddings with other settings (no re-encoding)."""
        clone = object.__new__(Router)
        clone.__dict__.update(self.__dict__)
        clone.settings = settings
        if _density_inputs(settings) != _density_inputs(self.settings):
            clone._density = clone._example_density()
        return clone

    def route(self, message: str) -> RouteDecision:
        """Decide which agent handles `message`, or which clarifying question to ask."""
        if not words(message):
            return self._empty(message)
        return self._decided(message, self.evidence(_texts_to_score(message)))

    def route_many(self, messages: Sequence[str]) -> list[RouteDecision]:
        """`route` for many messages with one encoder call (for evaluation and calibration)."""
        decisions: list[RouteDecision] = []
        texts: list[str] = []
        spans: list[tuple[int, int]] = []
        for message in messages:
            own = _texts_to_score(message) if words(message) else []
            spans.append((len(texts), len(texts) + len(own)))
            texts.extend(own)
        evidence = self.evidence(texts) if texts else None
        for message, (start, end) in zip(messages, spans, strict=True):
            if evidence is None or start == end:
                decisions.append(self._empty(message))
            else:
                decisions.append(self._decided(message, evidence.rows(start, end)))
        return decisions

    def evidence(self, texts: Sequence[str]) -> Evidence:
        settings = self.settings
        vectors = unit_rows(self._encoder(texts))
        vietnamese = np.array([looks_vietnamese(text) for text in texts])
        neighbours = self._neighbours(vectors, vietnamese)
        description = cosine(vectors, self._descriptions)
        lexical = np.stack([self._lexical.score(text) for text in texts])
        semantic_total = settings.example_weight + settings.description_weight
        semantic = (settings.example_weight * neighbours + settings.description_weight * description) / max(
            semantic_total, 1e-12
        )
        lexical_share = np.where(
            vietnamese,
            settings.vietnamese_lexical_weight,
            settings.lexical_weight / (semantic_total + settings.lexical_weight),
        )[:, None]
        blend = (1 - lexical_share) * semantic + lexical_share * lexical
        raw = np.maximum(blend, settings.lexical_alone_weight * lexical)
        return Evidence(raw=raw, lexical=lexical, neighbours=neighbours, vectors=vectors)

    def _example_density(self) -> np.ndarray:
        """Each example's local density above the average of its language's (0 where its pool is
        too small to measure, and everywhere when the density weight is 0).

        Density is the mean similarity to the `density_neighbours` nearest other examples of the
        same agent in the same language: the pools `_neighbours` compares a message with. Averages
        are per language because the encoder finds Vietnamese sentences alike far more than English
        ones: one average would raise every English example and lower every Vietnamese one.
        """
        settings = self.settings
        if settings.density_weight == 0:
            return np.zeros(len(self._examples))
        density = np.full(len(self._examples), np.nan)
        for span in self._example_slices:
            for language in (False, True):
                members = span.start + np.flatnonzero(self._example_vietnamese[span] == language)
                if len(members) < settings.density_min_examples:
                    continue
                pool = self._examples[members]
                similarity = pool @ pool.T
                np.fill_diagonal(similarity, -np.inf)
                k = min(settings.density_neighbours, len(members) - 1)
                density[members] = (-np.sort(-similarity, axis=1)[:, :k]).mean(axis=1)
        centred = np.zeros(len(self._examples))
        for language in (False, True):
            rows = ~np.isnan(density) & (self._example_vietnamese == language)
            if rows.any():
                centred[rows] = density[rows] - density[rows].mean()
        return centred

    def _neighbours(self, vectors: np.ndarray, vietnamese: np.ndarray) -> np.ndarray:
        """Per-agent similarity to the nearest examples, re-based for Vietnamese messages.

        A message is compared with an agent's examples in its own language when the agent has
        some: the encoder relates languages poorly, so the other language's examples only dilute.
        """
        settings = self.settings
        weights = np.asarray(settings.neighbour_weights, dtype=np.float64)
        similarity = cosine(vectors, self._examples) - settings.density_weight * self._density
        neighbours = np.zeros((len(vectors), len(self.agents)))
        for column, span in enumerate(self._example_slices):
            languages = self._example_vietnamese[span]
            for language in (False, True):
                rows = vietnamese == language
                if not rows.any():
                    continue
                pool = languages == language
                if not pool.any():
                    pool = np.ones_like(languages)
                k = min(len(weights), max(1, int(pool.sum()) // settings.examples_per_neighbour))
                columns = span.start + np.flatnonzero(pool)
                nearest = -np.sort(-similarity[np.ix_(rows, columns)], axis=1)[:, :k]
                neighbours[rows, column] = nearest @ (weights[:k] / weights[:k].sum())
        if len(self.agents) > 1 and vietnamese.any():
            others = (neighbours.sum(axis=1, keepdims=True) - neighbours) / (len(self.agents) - 1)
            rebased = neighbours - others + settings.semantic_background
            neighbours = np.where(vietnamese[:, None], rebased, neighbours)
        return neighbours

    def _decided(self, message: str, evidence: Evidence) -> RouteDecision:
        decision = self._decide(message, evidence)
        decision.embedding = MessageEmbedding(evidence.vectors[0], self._encoder)
        return decision

    def _decide(self, message: str, evidence: Evidence) -> RouteDecision:
        """Turn evidence (row 0: the whole message; rows 1..: its parts) into a decision."""
        settings = self.settings
        scores = settings.calibrated(evidence.raw)
        order = np.argsort(-scores[0])
        ranked = [
            RouteCandidate(agent=self.agents[i].name, score=round(float(scores[0, i]), 4)) for i in order
        ]
        candidates = ranked[: settings.max_candidates]
        vietnamese = looks_vietnamese(message)

        part_agents = self._part_agents(evidence)
        asked: dict[str, float] = {}
        for part in part_agents:
            if part is not None:
                asked[part.agent] = max(part.score, asked.get(part.agent, 0.0))
        if len(asked) > 1:
            named = sorted(asked.items(), key=lambda item: -item[1])[: settings.max_candidates]
            chosen = [RouteCandidate(agent=name, score=round(score, 4)) for name, score in named]
            texts = split_intents(message)
            unclear = [text for text, part in zip(texts, part_agents, strict=True) if part is None]
            if unclear:
                # Named in the order the message asks them, as the question quotes the message.
                asked_order = list(asked)  # filled part by part, so in message order
                in_order = sorted(chosen, key=lambda candidate: asked_order.index(candidate.agent))
                return _clarification(in_order, "multiple_intents", vietnamese, unclear)
            clear = [part for part in part_agents if part is not None]
            parts = by_agent(texts, [part.agent for part in clear], [part.score for part in clear])
            return RouteDecision(
                agent=None,
                candidates=chosen,
                clarify=False,
                reason="multiple_intents",
                question=None,
                parts=parts,
            )
        best = ranked[0]
        # The unrounded score: rounding to four places could lift it onto the threshold.
        if scores[0, order[0]] < settings.threshold:
            return _clarification(candidates, "low_confidence", vietnamese)
        # The curve saturates near 1, so closeness is judged on the uncalibrated scores.
        whole = evidence.raw[0]
        close = [
            candidate
            for candidate, index in zip(candidates, order, strict=False)
            if whole[order[0]] - whole[index] < settings.margin
        ]
        if len(close) > 1:
            return _clarification(close, "ambiguous", vietnamese)
        return RouteDecision(
            agent=best.agent, candidates=candidates, clarify=False, reason="confident", question=None
        )

    def _part_agents(self, evidence: Evidence) -> list[RouteCandidate | None]:
        """The agent each part of the message clearly asks for (None: the part is unclear).

        A part is clear when it is routed confidently, its words point to that agent, and the whole
        message is confidently in that agent's scope too: a generic part ("and I don't know why")
        can match some agent on its own while the message is plainly about one thing.
        """
        settings = self.settings
        supported = settings.calibrated(evidence.raw[0]) >= settings.part_support
        routed: list[RouteCandidate | None] = []
        for raw, lexical in zip(evidence.raw[1:], evidence.lexical[1:], strict=True):
            order = np.argsort(-raw)
            agent = int(order[0])
            best = float(settings.calibrated(raw[agent]))
            runner_up = float(raw[order[1]]) if len(order) > 1 else -np.inf
            clear = (
                best >= settings.threshold
                and raw[agent] - runner_up >= settings.margin
                and lexical[agent] >= settings.part_lexical_evidence
                and supported[agent]
            )
            routed.append(
                RouteCandidate(agent=self.agents[agent].name, score=round(best, 4)) if clear else None
            )
        return routed

    def _empty(self, message: str) -> RouteDecision:
        names = [agent.name for agent in self.agents]
        question = clarifying_question(names, "empty", "vi" if looks_vietnamese(message) else "en")
        return RouteDecision(agent=None, candidates=[], clarify=True, reason="empty", question=question)


def _clarification(
    candidates: list[RouteCandidate], reason: RouteReason, vietnamese: bool, unclear: Sequence[str] = ()
) -> RouteDecision:
    names = [candidate.agent for candidate in candidates]
    question = clarifying_question(names, reason, "vi" if vietnamese else "en", unclear)
    return RouteDecision(
        agent=None,
        candidates=candidates,
        clarify=True,
        reason=reason,
        question=question,
        unclear_parts=list(unclear),
    )


def _density_inputs(settings: RouterSettings) -> tuple[bool, int, int]:
    """The settings an agent set's example densities depend on (the weight applies per message)."""
    return settings.density_weight > 0, settings.density_neighbours, settings.density_min_examples


def _flatten(groups: Sequence[Sequence[str]]) -> list[str]:
    return [text for group in groups for text in group]
