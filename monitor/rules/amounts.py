"""Durations ("7d") and amounts ("2%", "1.5pp", "5B") as analysts write them in rule files.

Kept apart from the schema so the engine can use ``Amount`` without importing pydantic
models, and so the parsing rules are stated once for the README and the error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_DURATION_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

# A number, optionally signed, then an optional suffix: % (relative to the old value),
# pp/points (absolute, for percent metrics), k/m/b/bn/t multipliers (absolute).
_AMOUNT = re.compile(
    r"^\s*([+-]?\d+(?:\.\d+)?)\s*(%|pp|points?|k|m|mn|b|bn|t|tn)?\s*$", re.IGNORECASE
)
_MULTIPLIERS = {
    "": 1.0,
    "pp": 1.0,
    "point": 1.0,
    "points": 1.0,
    "k": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "t": 1e12,
    "tn": 1e12,
}

DURATION_HELP = "a duration such as 90s, 30m, 6h, 7d or 2w"
AMOUNT_HELP = "an amount such as 2% (relative), 1.5pp or 3 (absolute), or 5B (5 billion)"


def parse_duration(value: Any) -> Any:
    """Turn "7d" into a timedelta; leave anything else for pydantic to judge."""
    if isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
        seconds = float(m.group(1)) * _DURATION_UNITS[m.group(2).lower()]
        return timedelta(seconds=seconds)
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if isinstance(value, int | float):
        # a bare number would be ambiguous (seconds? days?): make the analyst say
        raise ValueError(f"expected {DURATION_HELP} with its unit, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Amount:
    """A size of change: ``relative`` amounts are fractions of the old value (0.02 = 2%)."""

    value: float
    relative: bool

    def exceeded_by(self, old: float, new: float) -> bool:
        """True when ``new`` differs from ``old`` by at least this amount."""
        return abs(new - old) >= self.size_at(old) - 1e-12 * max(1.0, abs(old))

    def size_at(self, reference: float) -> float:
        return abs(reference) * self.value if self.relative else self.value

    def __str__(self) -> str:
        if self.relative:
            return f"{self.value * 100:g}%"
        return f"{self.value:g}"


def parse_amount(value: Any) -> Any:
    if isinstance(value, Amount):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected {AMOUNT_HELP}, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"must not be negative, got {value!r}")
        return Amount(float(value), relative=False)
    if isinstance(value, str):
        m = _AMOUNT.match(value)
        if not m:
            raise ValueError(f"expected {AMOUNT_HELP}, got {value!r}")
        number = float(m.group(1))
        if number < 0:
            raise ValueError(f"must not be negative, got {value!r}")
        suffix = (m.group(2) or "").lower()
        if suffix == "%":
            return Amount(number / 100.0, relative=True)
        return Amount(number * _MULTIPLIERS[suffix], relative=False)
    raise ValueError(f"expected {AMOUNT_HELP}, got {type(value).__name__}")


def format_duration(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
