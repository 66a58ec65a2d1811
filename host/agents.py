"""Agents as configuration: what each one is for, how it talks, and which tools it may use."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

DEMO_AGENTS_FILE = Path(__file__).parent / "agents.yaml"


class AgentConfig(BaseModel):
    """One agent. `tools` are globs over `server:tool`; `model` is `provider:model` or `local`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    description: str
    examples: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    system_prompt: str = ""
    model: str = "local"
    tools: list[str] = Field(default_factory=list)
    output_format: str | None = None
    max_steps: int = Field(default=8, ge=1, le=32)


class AgentRegistry:
    """The agents known to the host, with a version that changes whenever any of them does."""

    def __init__(self, agents: list[AgentConfig]) -> None:
        self._agents = {agent.name: agent for agent in agents}
        digest = hashlib.sha256()
        for agent in sorted(agents, key=lambda a: a.name):
            digest.update(agent.model_dump_json().encode())
        self.version = digest.hexdigest()[:16]

    @classmethod
    def from_yaml(cls, path: Path = DEMO_AGENTS_FILE) -> AgentRegistry:
        raw = yaml.safe_load(path.read_text()) or {}
        return cls([AgentConfig.model_validate(item) for item in raw.get("agents", [])])

    def get(self, name: str) -> AgentConfig | None:
        return self._agents.get(name)

    def all(self) -> list[AgentConfig]:
        return list(self._agents.values())
