"""The supervisor: which agent answers a message, or what to ask the user first.

An agent named by the caller answers if the tenant's policy enables it. Otherwise the local
router scores every agent the tenant can see (the platform's and its own, not only those its
policy enables: a question for an agent the tenant lacks is then answered plainly as unavailable
instead of being forced onto the wrong agent; another tenant's own agents are never considered).
A short message that reads as the continuation of the previous turn stays with that turn's agent
(a follow-up). A message with several clear requests for different agents is answered part by
part, each by its agent (`host.intents`). Small talk (a greeting, thanks, "what can you do?") is
answered without routing. When no agent is chosen the user gets the router's clarifying question,
in their language, naming only agents they may use; where the reply says what the assistants do,
each one's example is the tenant's own suggested question when it has set some (an agent's own
examples serve every tenant, so they name no tenant's records).

Routing itself runs on the shared, batched routers of `host.router_pool`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, cast

from host.agents import AgentConfig, AgentRegistry
from host.authorizer import Authorizer
from host.catalog import ToolCatalog
from host.events import Outcome, RouteEvent
from host.intents import RoutedPart
from host.language import Language, detect_language
from host.replies import capabilities, clarifying_question, reply
from host.router_pool import RouterPool
from host.routing import MessageEmbedding, RouteDecision
from host.small_talk import SMALL_TALK, SmallTalk, small_talk
from host.text import only_identifiers
from host.tool_ranking import takes_the_message
from host.turn import LAST_AGENT_KEY, TurnInput

FOLLOW_UP_MAX_WORDS = 8
"""A message this short may continue the previous agent's conversation."""
FOLLOW_UP_MARGIN = 0.15
"""How far below the router's choice the previous agent may score and still keep a follow-up."""
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Routing:
    """Which agent answers (None: nobody, the user is told why), and what routing saw."""

    agent: AgentConfig | None
    event: RouteEvent
    message_embedding: MessageEmbedding | None = None
    """The router's embedding of the message, for tool ranking to reuse (None when not routed)."""
    parts: tuple[tuple[AgentConfig, RoutedPart], ...] = ()
    """A message with several requests: each part with the agent that answers it (`agent` None)."""
    declined: RouteEvent | None = None
    """Why the agent the caller chose should not answer, were it run by the local planner: the
    message is plainly for another agent, or for none (an LLM reads the message and decides)."""

    def declining(self, declined: RouteEvent) -> Routing:
        """No agent, for the reason the chosen one declines (timed as routing was)."""
        timed = declined.model_copy(update={"duration_ms": self.event.duration_ms})
        return Routing(None, timed, self.message_embedding)


class SuggestedQuestions(Protocol):
    """A tenant's own questions per agent (set by its admins), quoted as the agents' examples."""

    async def of_tenant(self, tenant_id: str) -> dict[str, list[str]]: ...


class GivenQuestions:
    """The same questions for any tenant (none: the agents' own examples are quoted); a replay
    gives the ones its episode recorded."""

    def __init__(self, by_agent: Mapping[str, list[str]] | None = None) -> None:
        self._by_agent = dict(by_agent or {})

    async def of_tenant(self, tenant_id: str) -> dict[str, list[str]]:
        return dict(self._by_agent)


class Supervisor:
    """Chooses the agent of each turn, over the agents visible to the caller's tenant."""

    def __init__(
        self,
        authorizer: Authorizer,
        catalog: ToolCatalog,
        routers: RouterPool | None = None,
    ) -> None:
        self._authorizer = authorizer
        self._catalog = catalog
        self._routers = routers or RouterPool()

    # -- choosing ----------------------------------------------------------------------------

    async def choose(self, registry: AgentRegistry, turn: TurnInput) -> Routing:
        """The turn's agent (policy-checked and audited), or none with the reason in the event."""
        started = time.perf_counter()
        routing = await self._choose(registry, turn)
        routing.event.duration_ms = round((time.perf_counter() - started) * 1000, 3)
        return routing

    async def _choose(self, registry: AgentRegistry, turn: TurnInput) -> Routing:
        caller = turn.caller
        if turn.agent:
            agent = registry.get(turn.agent, caller.tenant_id)
            if agent is None or not self._authorizer.use_agent(caller, turn.agent).allowed:
                candidates = [{"agent": turn.agent, "score": 0.0}]
                return Routing(
                    None,
                    RouteEvent(agent=None, confidence=0.0, reason="agent_not_enabled", candidates=candidates),
                )
            return await self._requested(registry, turn, agent)
        talk = small_talk(turn.message)
        if talk is not None:
            return Routing(None, RouteEvent(agent=None, confidence=1.0, reason=talk))

        decision = await self._routers.route(registry, caller.tenant_id, turn.message)
        if decision is None:
            return Routing(None, RouteEvent(agent=None, confidence=0.0, reason="no_agents"))
        candidates = [candidate.model_dump() for candidate in decision.candidates]
        confidence = decision.candidates[0].score if decision.candidates else 0.0
        if decision.parts:
            return self._parts(registry, turn, decision)
        chosen, reason = decision.agent, str(decision.reason)
        follow_up = self._follow_up_agent(registry, turn, decision)
        if follow_up is not None:
            chosen, reason = follow_up.name, "follow_up"
        elif decision.clarify or chosen is None:
            event = RouteEvent(
                agent=None,
                confidence=confidence,
                reason=decision.reason,
                candidates=candidates,
                unclear_parts=decision.unclear_parts,
            )
            return Routing(None, event, decision.embedding)
        if not self._authorizer.use_agent(caller, chosen).allowed:
            event = RouteEvent(
                agent=None, confidence=confidence, reason="agent_not_enabled", candidates=candidates
            )
            return Routing(None, event, decision.embedding)
        event = RouteEvent(agent=chosen, confidence=confidence, reason=reason, candidates=candidates)
        return Routing(registry.get(chosen, caller.tenant_id), event, decision.embedding)

    async def _requested(self, registry: AgentRegistry, turn: TurnInput, agent: AgentConfig) -> Routing:
        """The agent the caller chose, with the reason it should decline the message if any.

        Small talk is answered as such. A message the router confidently gives to another agent the
        caller may use, or one outside every agent's scope that none of this agent's tools takes as
        free text, is declined when the local planner runs the agent: it would call whichever of
        its tools needs no argument ("Book me a flight" listed the overdue customers). Otherwise a
        message naming an identifier the agent's tools take stays with it (a bare one always), as
        does a short follow-up of its own turn.
        """
        caller = turn.caller
        talk = small_talk(turn.message)
        if talk is not None:
            return Routing(None, RouteEvent(agent=None, confidence=1.0, reason=talk))
        chosen = RouteEvent(agent=agent.name, confidence=1.0, reason="requested")
        decision = await self._routers.route(registry, caller.tenant_id, turn.message)
        if decision is None or decision.agent == agent.name or decision.parts:
            return Routing(agent, chosen, decision.embedding if decision else None)
        scores = {candidate.agent: candidate.score for candidate in decision.candidates}
        own_score = scores.get(agent.name, 0.0)
        own = {"agent": agent.name, "score": own_score, "requested": True}
        other = decision.agent
        # Naming an identifier the agent's tools take does not make a question its own: the
        # shipment agent's order tool takes a tax code, and "What is the debt of MST …?" is
        # still the debt agent's. A bare identifier says nothing of the agent, so it stays.
        if (
            other is not None
            and not decision.clarify
            and scores[other] - own_score > FOLLOW_UP_MARGIN
            and not only_identifiers(turn.message)
            and self._authorizer.use_agent(caller, other).allowed
        ):
            event = RouteEvent(
                agent=None,
                confidence=scores[other],
                reason="other_agent",
                candidates=[{"agent": other, "score": scores[other]}, own],
            )
            return Routing(agent, chosen, decision.embedding, declined=event)
        if self._names_an_identifier(agent, turn, [turn.message]):
            return Routing(agent, chosen, decision.embedding)
        if decision.reason == "low_confidence" and decision.candidates[0].agent != agent.name:
            # Its own short follow-up ("and his history?"), scoring close to the router's best guess.
            follow_up = (
                turn.memory.get(LAST_AGENT_KEY) == agent.name
                and len(_WORD.findall(turn.message)) <= FOLLOW_UP_MAX_WORDS
                and decision.candidates[0].score - own_score <= FOLLOW_UP_MARGIN
                and self._names_an_identifier(agent, turn, _remembered(turn))
            )
            tools = self._catalog.select(agent.tools, tenant_id=caller.tenant_id)
            if not follow_up and not any(takes_the_message(tool) for tool in tools):
                event = RouteEvent(agent=None, confidence=own_score, reason="outside_agent", candidates=[own])
                return Routing(agent, chosen, decision.embedding, declined=event)
        return Routing(agent, chosen, decision.embedding)

    def _parts(self, registry: AgentRegistry, turn: TurnInput, decision: RouteDecision) -> Routing:
        """Each part with its agent, or no agent when the tenant's policy refuses one of them."""
        caller = turn.caller
        parts = []
        for part in decision.parts:
            agent = registry.get(part.agent, caller.tenant_id)
            if agent is None or not self._authorizer.use_agent(caller, part.agent).allowed:
                refused = [{"agent": part.agent, "score": part.score}]
                event = RouteEvent(
                    agent=None, confidence=part.score, reason="agent_not_enabled", candidates=refused
                )
                return Routing(None, event, decision.embedding)
            parts.append((agent, part))
        asked = [part.model_dump() for part in decision.parts]
        confidence = min(part.score for part in decision.parts)
        event = RouteEvent(agent=None, confidence=confidence, reason="multiple_intents", candidates=asked)
        return Routing(None, event, decision.embedding, tuple(parts))

    def _follow_up_agent(
        self, registry: AgentRegistry, turn: TurnInput, decision: RouteDecision
    ) -> AgentConfig | None:
        """The previous turn's agent, when a short message reads as its continuation.

        It does when the router is unsure, or when the previous agent scores close to the router's
        choice, and the message names an identifier one of that agent's tools takes or the session
        remembers one ("and his history?"). A message that is nothing but an identifier ("and
        3190048330?") stays whatever the scores: they only tell whose examples quote such codes.
        """
        last = turn.memory.get(LAST_AGENT_KEY)
        if (
            not isinstance(last, str)
            or decision.reason in {"multiple_intents", "empty"}
            or decision.agent == last
        ):
            return None
        if len(_WORD.findall(turn.message)) > FOLLOW_UP_MAX_WORDS:
            return None
        bare = only_identifiers(turn.message)
        if not decision.clarify and not bare:
            scores = {candidate.agent: candidate.score for candidate in decision.candidates}
            if last not in scores or decision.candidates[0].score - scores[last] > FOLLOW_UP_MARGIN:
                return None
        agent = registry.get(last, turn.caller.tenant_id)
        texts = [turn.message] if bare else _remembered(turn)
        if agent is None or not self._names_an_identifier(agent, turn, texts):
            return None
        return agent

    def _names_an_identifier(self, agent: AgentConfig, turn: TurnInput, texts: list[str]) -> bool:
        """Whether one of `texts` holds a value some tool of `agent` takes by pattern (a tax code)."""
        patterns = [
            prop["pattern"]
            for tool in self._catalog.select(agent.tools, tenant_id=turn.caller.tenant_id)
            for prop in (tool.input_schema.get("properties") or {}).values()
            if isinstance(prop, dict) and isinstance(prop.get("pattern"), str)
        ]
        for pattern in patterns:
            body = pattern.removeprefix("^").removesuffix("$")
            if any(re.search(rf"(?<![\w-])(?:{body})(?![\w-])", text, re.IGNORECASE) for text in texts):
                return True
        return False

    async def without_agent(
        self,
        registry: AgentRegistry,
        turn: TurnInput,
        event: RouteEvent,
        language: Language,
        questions: SuggestedQuestions,
    ) -> tuple[str, Outcome]:
        """What the user is told when no agent answers, and that turn's outcome. Where it says what
        the assistants do, their examples are the tenant's `questions` (read only then)."""
        tenant_id = turn.caller.tenant_id
        enabled = {agent.name: agent for agent in self._authorizer.agents_for(registry, tenant_id)}
        if event.reason == "agent_not_enabled":
            name = event.candidates[0]["agent"] if event.candidates else "?"
            known = registry.get(name, turn.caller.tenant_id)
            wanted = known.title(language) if known else name
            offered = ", ".join(enabled[name].title(language) for name in sorted(enabled)) or "-"
            return reply(language, "agent_not_enabled", agent=wanted, offered=offered), "unavailable"
        if event.reason == "other_agent":
            return _not_for_requested(registry, turn, event, language, {}), "clarify"
        if event.reason == "outside_agent":
            own = await questions.of_tenant(tenant_id)
            return _not_for_requested(registry, turn, event, language, own), "clarify"
        if event.reason == "no_agents" or not enabled:
            return reply(language, "no_agents"), "clarify"
        if event.reason in SMALL_TALK:
            own = await questions.of_tenant(tenant_id)
            offered = _offered([enabled[name] for name in sorted(enabled)], language, own)
            return reply(language, cast(SmallTalk, event.reason), capabilities=offered), "clarify"
        named = [c["agent"] for c in event.candidates if c["agent"] in enabled][:3]
        if event.reason == "low_confidence":
            # Nothing fits well: say what the assistants do (best candidates first), with an
            # example in the user's language, rather than guess between two of them.
            ordered = named + sorted(name for name in enabled if name not in named)
            own = await questions.of_tenant(tenant_id)
            offered = _offered([enabled[name] for name in ordered], language, own)
            return reply(language, "out_of_scope", capabilities=offered), "clarify"
        if event.reason == "empty" or not named:
            named = sorted(enabled)
        titles = [enabled[name].title(language) for name in named]
        return clarifying_question(titles, event.reason, language, event.unclear_parts), "clarify"


def _not_for_requested(
    registry: AgentRegistry,
    turn: TurnInput,
    event: RouteEvent,
    language: Language,
    questions: Mapping[str, list[str]],
) -> str:
    """Why the agent the caller chose does not answer: another one does, or none of this kind."""
    tenant_id = turn.caller.tenant_id
    requested = next(c["agent"] for c in event.candidates if c.get("requested"))
    agent = registry.get(requested, tenant_id)
    title = agent.title(language) if agent else requested
    if event.reason == "other_agent":
        other = registry.get(event.candidates[0]["agent"], tenant_id)
        return reply(language, "other_agent", agent=title, other=other.title(language) if other else "?")
    example = _example_in(agent, language, questions) if agent else None
    if example is None:
        return reply(language, "outside_agent", agent=title)
    return reply(language, "outside_agent_example", agent=title, example=example)


def _remembered(turn: TurnInput) -> list[str]:
    """The message and the values the session remembers ("and his history?" names no customer)."""
    return [
        turn.message,
        *(value for key, value in turn.memory.items() if isinstance(value, str) and not key.startswith("_")),
    ]


def _offered(agents: list[AgentConfig], language: Language, questions: Mapping[str, list[str]]) -> str:
    """What the assistants do, one line each: its title and an example in `language`."""
    return capabilities(
        [(agent.title(language), _example_in(agent, language, questions)) for agent in agents], language
    )


def _example_in(agent: AgentConfig, language: Language, questions: Mapping[str, list[str]]) -> str | None:
    """The tenant's first question for the agent written in `language`, else the agent's first
    example in it, if either has one."""
    for texts in (questions.get(agent.name) or [], agent.examples):
        example = next((text for text in texts if detect_language(text) == language), None)
        if example is not None:
            return example
    return None
