"""What a call costs: a price table per model, shipped as data (prices.json) and
overridable by settings, because prices change more often than code ships.

Bedrock and gateways name the same model differently (`us.anthropic.claude-sonnet-4-5-
20250929-v1:0`, an inference-profile ARN, `claude-sonnet-4-5-20250929`): ids are
normalized before lookup, and the longest table key that prefixes the normalized id wins,
so a dated snapshot is priced like its family.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from faultmaven.core.llm import Usage
from faultmaven.core.logging import logger

_PER_TOKEN = 1_000_000
_ARN_PREFIX = re.compile(r"^arn:[^:]+:bedrock:[^:]*:[^:]*:(?:inference-profile|foundation-model)/")
_REGION_PREFIX = re.compile(r"^(?:us|eu|apac|au|ca|jp|us-gov|global)\.")
_VENDOR_PREFIX = re.compile(r"^anthropic[./]")
_VERSION_SUFFIX = re.compile(r"-v\d+(?::\d+)?$")
_DATE_SUFFIX = re.compile(r"-\d{8}$")


@dataclass(frozen=True)
class Price:
    """USD per million tokens of each kind."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_creation_input_tokens * self.cache_write
            + usage.cache_read_input_tokens * self.cache_read
        ) / _PER_TOKEN


def normalize_model(model: str) -> str:
    name = model.strip().lower()
    name = _ARN_PREFIX.sub("", name)
    name = _REGION_PREFIX.sub("", name)
    name = _VENDOR_PREFIX.sub("", name)
    name = _VERSION_SUFFIX.sub("", name)
    return _DATE_SUFFIX.sub("", name)


class PriceTable:
    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = {normalize_model(model): price for model, price in prices.items()}
        # Longest first, so `claude-opus-4-5` wins over `claude-opus-4`.
        self._keys = sorted(self._prices, key=len, reverse=True)
        self._unpriced: set[str] = set()

    @classmethod
    def shipped(cls, overrides: Mapping[str, Mapping[str, float]] | None = None) -> PriceTable:
        """The table in prices.json with `overrides` (settings.llm_prices) merged over it;
        a partial override keeps the shipped figures it does not name."""
        table = dict(_shipped_prices())
        for model, figures in (overrides or {}).items():
            base = table.get(normalize_model(model), Price(0.0, 0.0, 0.0, 0.0))
            table[normalize_model(model)] = Price(
                input=figures.get("input", base.input),
                output=figures.get("output", base.output),
                cache_write=figures.get("cache_write", base.cache_write),
                cache_read=figures.get("cache_read", base.cache_read),
            )
        return cls(table)

    def price(self, model: str) -> Price | None:
        name = normalize_model(model)
        exact = self._prices.get(name)
        if exact is not None:
            return exact
        for key in self._keys:
            if name.startswith(key):
                return self._prices[key]
        return None

    def cost(self, model: str, usage: Usage) -> float:
        """USD for `usage` on `model`; 0 for a model the table does not know (logged once,
        so an operator adds it to FAULTMAVEN_LLM_PRICES — token budgets still apply)."""
        price = self.price(model)
        if price is None:
            if model not in self._unpriced:
                self._unpriced.add(model)
                logger.warning("no price for model; its cost counts as 0", extra={"model": model})
            return 0.0
        return price.cost(usage)


@lru_cache(maxsize=1)
def _shipped_prices() -> dict[str, Price]:
    raw = json.loads(resources.files("faultmaven.llm").joinpath("prices.json").read_text())
    return {
        normalize_model(model): Price(**figures)
        for model, figures in raw.items()
        if not model.startswith("_")
    }
