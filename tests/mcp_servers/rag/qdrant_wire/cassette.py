"""Recorded Qdrant REST exchanges, grouped by the index operation (step) that sent them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

HERE = Path(__file__).parent


class Request(BaseModel):
    method: str
    path: str
    query: dict[str, str] = Field(default_factory=dict)
    body: Any = None


class Response(BaseModel):
    status: int
    body: Any


class Exchange(BaseModel):
    request: Request
    response: Response


class Step(BaseModel):
    """One operation of the scenario, on behalf of `tenant` (None for collection setup)."""

    name: str
    tenant: str | None
    exchanges: list[Exchange]


class Cassette(BaseModel):
    qdrant_client: str = Field(description="the qdrant-client version that sent the requests")
    server: dict[str, Any] = Field(description="what the server answers on GET /")
    produced_by: str
    steps: list[Step]

    @classmethod
    def load(cls, name: str) -> Cassette:
        return cls.model_validate_json((HERE / name).read_text())

    def save(self, name: str) -> None:
        (HERE / name).write_text(self.model_dump_json(indent=1) + "\n")

    def exchanges(self) -> list[Exchange]:
        return [exchange for step in self.steps for exchange in step.exchanges]
