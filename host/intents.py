"""A message with several requests: where it splits into parts, and the one answer to all of them.

The router scores each part on its own (`host.routing`). When every part clearly belongs to an
agent and the parts go to different agents, each agent answers its part in turn and the caller
gets one final answer made of theirs (`combined`); when any part is unclear the user is asked
instead, naming the agents the clear parts asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel

from host.events import FinalEvent, Outcome
from host.text import words
from host.usage import Usage

# Where a message may turn to a second request: sentence punctuation, and the conjunctions that
# join requests in English and Vietnamese (with and without accents).
_INTENT_BOUNDARY = re.compile(
    r"[.;?!]+(?=\s|$)|\b(?:and|also|then|plus|as well as|và|va|với|voi|rồi|roi|cũng như|cung nhu)\b",
    re.IGNORECASE,
)
_MAX_PARTS = 4
_MIN_PART_WORDS = 2
PART_SEPARATOR = "\n\n"
"""Between the answers to the parts of a message, in the final answer and in the streamed text."""


class RoutedPart(BaseModel):
    """One agent's share of a message with several requests: the parts it answers, joined."""

    agent: str
    text: str
    score: float


def split_intents(message: str) -> list[str]:
    """The parts of `message` that could each be a request of their own (at most four).

    Fragments of fewer than two words ("thanks", "and") are dropped; a message with one part left
    is a single request.
    """
    parts = [part.strip(" \t\n,:") for part in _INTENT_BOUNDARY.split(message)]
    return [part for part in parts if len(words(part)) >= _MIN_PART_WORDS][:_MAX_PARTS]


def by_agent(texts: Sequence[str], agents: Sequence[str], scores: Sequence[float]) -> list[RoutedPart]:
    """The parts grouped by agent, in the order the message first asks each agent."""
    grouped: dict[str, RoutedPart] = {}
    for text, agent, score in zip(texts, agents, scores, strict=True):
        part = grouped.get(agent)
        if part is None:
            grouped[agent] = RoutedPart(agent=agent, text=text, score=score)
        else:
            grouped[agent] = RoutedPart(
                agent=agent, text=f"{part.text}; {text}", score=max(part.score, score)
            )
    return list(grouped.values())


def combined(finals: Sequence[FinalEvent]) -> FinalEvent:
    """One final answer from each part's: the answers in order, one paragraph each.

    The outcome is `answered` only when every part was answered; otherwise that of the first part
    that waits for approval, or else of the first part that was not answered (a question for the
    user, not found, unavailable...). The last answering agent is the one a follow-up continues.
    """
    paused = next((final for final in finals if final.outcome == "pending_approval"), None)
    unanswered = next((final for final in finals if final.outcome != "answered"), None)
    outcome: Outcome = (paused or unanswered or finals[-1]).outcome
    memory: dict[str, object] = {}
    usage = Usage()
    for final in finals:
        memory.update(final.memory)
        usage = usage.add(final.usage)
    return FinalEvent(
        agent=finals[-1].agent,
        answer=PART_SEPARATOR.join(final.answer for final in finals if final.answer),
        outcome=outcome,
        data={
            "parts": [
                {"agent": final.agent, "outcome": final.outcome, "data": final.data} for final in finals
            ]
        },
        citations=[citation for final in finals for citation in final.citations],
        usage=usage,
        memory=memory,
        approval_id=paused.approval_id if paused is not None else None,
    )
