"""What an agent run cost: the CLI's own dollars, else its tokens priced from the model table.

The table ships as ``pricing.toml`` beside this module; a project's ``pricing:`` entries win over it.
A model the table does not know has no price: its cost is ``None`` ("unknown"), never 0.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_TABLE_FILE = Path(__file__).with_name("pricing.toml")
_PER = 1_000_000


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens of one model (``cached_input`` None: priced as fresh input)."""

    input: float
    output: float
    cached_input: float | None = None
    checked: str | None = None

    def cost(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> float:
        """``input_tokens`` includes the cached ones (every CLI reports it so); they are priced apart."""
        cached = min(max(cached_input_tokens, 0), max(input_tokens, 0))
        fresh = max(input_tokens, 0) - cached
        cached_rate = self.input if self.cached_input is None else self.cached_input
        return (fresh * self.input + cached * cached_rate + max(output_tokens, 0) * self.output) / _PER


@cache
def shipped_prices() -> Mapping[str, Price]:
    """The table shipped with animus (model name → Price)."""
    data = tomllib.loads(_TABLE_FILE.read_text(encoding="utf-8"))
    return {name: _price(entry) for name, entry in data.get("models", {}).items()}


def _price(entry: Mapping[str, object]) -> Price:
    cached = entry.get("cached_input")
    checked = entry.get("checked")
    return Price(
        input=float(entry["input"]),  # type: ignore[arg-type]
        output=float(entry["output"]),  # type: ignore[arg-type]
        cached_input=None if cached is None else float(cached),  # type: ignore[arg-type]
        checked=None if checked is None else str(checked),
    )


def price_table(overrides: Mapping[str, Mapping[str, object]] | None = None) -> dict[str, Price]:
    """The shipped table with a project's ``pricing:`` entries (plain dicts) over it."""
    table = dict(shipped_prices())
    for name, entry in (overrides or {}).items():
        table[name] = _price(entry)
    return table


def find_price(model: str | None, table: Mapping[str, Price]) -> Price | None:
    """The price of ``model``: its exact entry, else the longest entry it extends (``<entry>-<suffix>``)."""
    if not model:
        return None
    name = model.strip().rsplit("/", 1)[-1].lower()
    lowered = {key.lower(): price for key, price in table.items()}
    if name in lowered:
        return lowered[name]
    for key in sorted(lowered, key=len, reverse=True):
        if name.startswith(key + "-") or name.startswith(key + "@"):
            return lowered[key]
    return None


def run_cost(
    *, reported_usd: float | None, model: str | None, input_tokens: int, output_tokens: int,
    cached_input_tokens: int = 0, table: Mapping[str, Price] | None = None,
) -> float | None:
    """The dollars a run cost: what the CLI reported, else its tokens × the model's price; None: unknown."""
    if reported_usd is not None:
        return float(reported_usd)
    if input_tokens <= 0 and output_tokens <= 0:
        return 0.0  # nothing was used (the agent never reached the model): nothing to price
    price = find_price(model, shipped_prices() if table is None else table)
    return None if price is None else price.cost(input_tokens, output_tokens, cached_input_tokens)
