"""Choosing the model of an agent from its `provider:model` string."""

from __future__ import annotations

from host.models.base import Model
from host.models.local import LocalPlanner


class UnknownModel(LookupError):
    """The agent names a provider or model this host cannot use."""

    code = "unknown_model"


class ModelRegistry:
    """Resolves `local` or `provider:model` to a `Model` for a tenant."""

    def __init__(self, local: LocalPlanner | None = None) -> None:
        self._local = local or LocalPlanner()

    @property
    def local(self) -> LocalPlanner:
        return self._local

    def resolve(self, spec: str, *, tenant_id: str) -> Model:
        provider = spec.split(":", 1)[0]
        if provider == "local":
            return self._local
        raise UnknownModel(f"model provider '{provider}' is not available on this host")
