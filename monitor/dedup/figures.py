"""Figures: the distinctive quantities an article states, and when two are the same.

Part of the same-story level (:mod:`monitor.dedup.story`): an amount given in two
currencies is one figure, two amounts match within a small tolerance, and a figure index
finds the matching figures of a large story without comparing every pair.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.values import Fact

REL_TOLERANCE = 0.025  # "$52 billion" ~ "$53 billion" (1.9%)
ABS_TOLERANCE_PCT = 0.3  # "36%" ~ "35.8%"
TWIN_GAP = 40  # characters between the two amounts of "RMB 480 billion, about $66 billion"


@dataclass(frozen=True, slots=True)
class Figure:
    """One distinctive quantity; ``alt`` is the same amount in a second currency."""

    unit: str
    currency: str | None
    value: float
    surface: str
    weight: float
    alt_currency: str | None = None
    alt_value: float | None = None
    entity: str | None = None
    metric: str | None = None

    def matches(self, other: Figure) -> bool:
        if self.unit != other.unit:
            return False
        mine = [(self.currency, self.value)]
        if self.alt_value is not None:
            mine.append((self.alt_currency, self.alt_value))
        theirs = [(other.currency, other.value)]
        if other.alt_value is not None:
            theirs.append((other.alt_currency, other.alt_value))
        return any(c1 == c2 and _close(self.unit, v1, v2) for c1, v1 in mine for c2, v2 in theirs)


def _close(unit: str, a: float, b: float) -> bool:
    # The sign of a change depends on the wording ("fell 76%" is -76, "a 76% drop" may be
    # +76); for telling whether two articles restate one figure, the magnitude decides.
    a, b = abs(a), abs(b)
    if a == b:
        return True
    tol = REL_TOLERANCE * max(abs(a), abs(b))
    if unit in ("percent", "pp", "growth"):
        tol = max(tol, ABS_TOLERANCE_PCT)
    return abs(a - b) <= tol


def _weight(f: Fact) -> float:
    """How much a shared figure says that two articles report one event."""
    v = abs(float(f.value))
    if f.unit == "money":
        return 1.0 if v >= 1e6 else 0.7
    if f.unit in ("percent", "pp", "growth", "multiple"):
        return 0.5
    # counts: a year or a small number ("three years", "nine quarters") is weak evidence;
    # a large one ("80 billion parameters", "418,227 vehicles") is as telling as money
    if v.is_integer() and 1900 <= v <= 2100:
        return 0.0
    if v < 10:
        return 0.2
    return 0.7 if v >= 1e6 else 0.5


fact_weight = _weight  # the store keys only the figures that can count as evidence


def figures_of(facts: Iterable[Fact]) -> tuple[Figure, ...]:
    facts = list(facts)
    taken = [False] * len(facts)
    out: list[Figure] = []
    for i, f in enumerate(facts):
        if taken[i]:
            continue
        weight = _weight(f)
        if weight <= 0.0:
            continue
        alt_c, alt_v = f.alt_currency, f.alt_value
        if f.unit == "money":
            # The twin of a two-currency amount is one figure, whether or not the extractor
            # linked it: "RMB 480 billion, about $66 billion" must not count twice.
            for j in range(i + 1, len(facts)):
                g = facts[j]
                if taken[j] or g.unit != "money" or g.currency == f.currency:
                    continue
                linked = (
                    alt_v is not None and g.currency == alt_c and _close("money", alt_v, g.value)
                )
                adjacent = g.quote == f.quote and 0 <= g.span[0] - f.span[1] <= TWIN_GAP
                if linked or adjacent:
                    taken[j] = True
                    alt_c, alt_v = g.currency, g.value
                    break
        fig = Figure(
            unit=f.unit,
            currency=f.currency,
            value=f.value,
            surface=f.surface,
            weight=weight,
            alt_currency=alt_c,
            alt_value=alt_v,
            entity=f.entity,
            metric=f.metric,
        )
        # a figure restated later in the same article is one figure
        if not any(fig.matches(o) for o in out):
            out.append(fig)
    return tuple(out)


class FigureIndex:
    """Figures by (unit, currency) of each of their amounts, sorted by magnitude:
    ``matches`` only pairs amounts of one unit and currency within the tolerance, so a
    lookup visits those and no other figure."""

    __slots__ = ("_by",)

    def __init__(self) -> None:
        self._by: dict[tuple[str, str | None], tuple[list[float], list[int]]] = {}

    def _put(self, unit: str, cur: str | None, value: float, i: int) -> None:
        vals, ids = self._by.setdefault((unit, cur), ([], []))
        a = abs(value)
        at = bisect.bisect_right(vals, a)
        vals.insert(at, a)
        ids.insert(at, i)

    def add(self, f: Figure, i: int) -> None:
        self._put(f.unit, f.currency, f.value, i)
        if f.alt_value is not None:
            self._put(f.unit, f.alt_currency, f.alt_value, i)

    def matching(self, f: Figure) -> set[int]:
        """Positions of the added figures that ``f.matches``."""
        found: set[int] = set()
        pairs = [(f.currency, f.value)]
        if f.alt_value is not None:
            pairs.append((f.alt_currency, f.alt_value))
        for cur, v in pairs:
            got = self._by.get((f.unit, cur))
            if got is None:
                continue
            vals, ids = got
            a = abs(v)
            # wider than any tolerance of _close; _close decides
            reach = a * 2 * REL_TOLERANCE + ABS_TOLERANCE_PCT + 1e-9
            k = bisect.bisect_left(vals, a - reach)
            while k < len(vals) and vals[k] <= a + reach:
                if _close(f.unit, v, vals[k]):
                    found.add(ids[k])
                k += 1
        return found


def union_figures(groups: Iterable[Sequence[Figure]]) -> tuple[Figure, ...]:
    """Every figure of the groups, in order, except those matching one already taken."""
    figures: list[Figure] = []
    index = FigureIndex()
    for group in groups:
        for f in group:
            if not index.matching(f):
                index.add(f, len(figures))
                figures.append(f)
    return tuple(figures)
