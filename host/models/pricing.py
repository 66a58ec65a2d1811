"""Turning token usage into cost with a configurable price table (`prices.yaml`)."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

import structlog
import yaml
from pydantic import BaseModel, Field

from host.usage import Usage

log = structlog.get_logger(__name__)

DEFAULT_PRICES_FILE = Path(__file__).parent / "prices.yaml"


class Price(BaseModel):
    """US dollars per million input and output tokens for the models `match` covers."""

    match: str = Field(description="glob over provider:model")
    input: float = Field(ge=0)
    output: float = Field(ge=0)


class PriceTable:
    """Prices by `provider:model` glob; the first matching entry wins."""

    def __init__(self, prices: list[Price]) -> None:
        self._prices = prices
        self._warned: set[str] = set()

    @classmethod
    def from_file(cls, path: Path | None = None) -> PriceTable:
        raw = yaml.safe_load((path or DEFAULT_PRICES_FILE).read_text()) or {}
        return cls([Price.model_validate(entry) for entry in raw.get("prices", [])])

    def price_of(self, model: str) -> Price | None:
        return next((price for price in self._prices if fnmatchcase(model, price.match)), None)

    def usage(self, model: str, input_tokens: int, output_tokens: int) -> Usage:
        """One model call's usage with its cost (0 and a warning once for an unpriced model)."""
        price = self.price_of(model)
        if price is None:
            if model not in self._warned:
                self._warned.add(model)
                log.warning("model_unpriced", model=model)
            cost = 0.0
        else:
            cost = (input_tokens * price.input + output_tokens * price.output) / 1_000_000
        return Usage(
            input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=round(cost, 8), model_calls=1
        )
