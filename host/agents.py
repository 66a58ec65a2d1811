"""Agents as configuration: what each one is for, how it talks, and which tools it may use.

A platform agent (`tenant_id` None) serves every tenant whose policy enables it; a tenant's own
agent serves that tenant only and, under the same name, stands in for the platform's.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from host.language import Language
from mcp_servers.common.results import OutputFormat

DEMO_AGENTS_FILE = Path(__file__).parent / "agents.yaml"


class AgentDisplay(BaseModel):
    """How users reading one language see an agent: in the console, and wherever a reply names it."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=80, description="the agent's name as users read it")
    summary: str | None = Field(default=None, max_length=300, description="one line on what it does")


class AgentConfig(BaseModel):
    """One agent. `tools` are globs over `server:tool`.

    `model` is `local` (the deterministic planner), `provider:model` (`anthropic:…`, `openai:…`,
    `gemini:…`), or `default`: the tenant's configured LLM, else the local planner.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    description: str = Field(min_length=1, max_length=2000)
    display: dict[Language, AgentDisplay] = Field(
        default_factory=dict,
        description="title and summary per language ('en', 'vi'); without one, users read the name "
        "and the description",
    )
    examples: list[str] = Field(default_factory=list, max_length=50)
    keywords: list[str] = Field(default_factory=list, max_length=100)
    system_prompt: str = Field(default="", max_length=20_000)
    model: str = Field(default="default", pattern=r"^(local|default|[a-z][a-z0-9_-]*:\S+)$")
    tools: list[str] = Field(default_factory=list, max_length=100)
    output_format: OutputFormat | None = Field(
        default=None, description="how answers are shaped when the tool declares no format"
    )
    max_steps: int = Field(default=8, ge=1, le=32)
    tenant_id: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="the one tenant owning this agent; None for a platform agent",
    )

    def title(self, language: Language) -> str:
        """The agent's name for a reader of `language`."""
        shown = self.display.get(language)
        return shown.title if shown else self.name


def load_agents_file(path: Path = DEMO_AGENTS_FILE) -> list[AgentConfig]:
    """The agents of a YAML file (`agents: [...]`), validated."""
    raw = yaml.safe_load(path.read_text()) or {}
    return [AgentConfig.model_validate(item) for item in raw.get("agents", [])]


class AgentRegistry:
    """A snapshot of the known agents, with a version that changes whenever any of them does."""

    def __init__(self, agents: list[AgentConfig]) -> None:
        self._platform = {agent.name: agent for agent in agents if agent.tenant_id is None}
        self._owned: dict[str, dict[str, AgentConfig]] = {}
        for agent in agents:
            if agent.tenant_id is not None:
                self._owned.setdefault(agent.tenant_id, {})[agent.name] = agent
        digest = hashlib.sha256()
        for agent in sorted(agents, key=lambda a: (a.tenant_id or "", a.name)):
            digest.update(agent.model_dump_json().encode())
        self.version = digest.hexdigest()[:16]

    @classmethod
    def from_yaml(cls, path: Path = DEMO_AGENTS_FILE) -> AgentRegistry:
        return cls(load_agents_file(path))

    def get(self, name: str, tenant_id: str | None = None) -> AgentConfig | None:
        """The agent `name` as `tenant_id` sees it: its own first, then the platform's."""
        if tenant_id is not None and name in self._owned.get(tenant_id, {}):
            return self._owned[tenant_id][name]
        return self._platform.get(name)

    def visible_to(self, tenant_id: str) -> list[AgentConfig]:
        """Platform agents and the tenant's own (its own replace platform agents of the same name)."""
        merged = {**self._platform, **self._owned.get(tenant_id, {})}
        return [merged[name] for name in sorted(merged)]

    def all(self) -> list[AgentConfig]:
        """Every agent of every owner."""
        return [*self._platform.values(), *(a for owned in self._owned.values() for a in owned.values())]
