"""Scoring extracted facts and model names against labelled real news.

The matching, precisely:

* **Where.** A labelled fact is looked for only at its quote: an extracted fact counts
  when its span overlaps an occurrence of the quote in the body. A figure extracted
  elsewhere (the same number in another sentence) never scores.
* **Value.** Magnitudes are compared with a relative tolerance of 1e-6 (floating-point
  noise only: 280.15 billion does not match 280.2 billion). The sign is ignored: the
  labels write declines as negative numbers, and whether the extractor read the
  direction is not what this measures.
* **Unit.** A currency code (``CNY``, ``USD``, ``HKD`` ...) matches money in that
  currency, either as the fact's own amount or as its linked second currency
  (``alt_value``/``alt_currency``: "380 billion yuan ($52.4 billion)" is one amount
  in two currencies). ``percent`` matches percentages (levels and changes), ``count``
  matches counts, ``points`` matches benchmark points, ``ratio`` matches a relative
  claim ("half the price" = 0.5). Any other unit (``GW``, ``TFLOPS``, ``TB/s``)
  matches the extractor's unit of the same name, case-folded.
* **Ranges.** A labelled range (``value_low`` to ``value``) matches only a fact
  that gives both bounds (``value`` = low, ``value_high`` = high); one bound alone
  does not count.
* **Entity.** A label's company id is read through the vocabulary: the entity whose
  id is the label's id, else the entity one of whose names, lower-cased with
  non-alphanumerics as ``_``, is the label's id ("amazon" is the entity ``aws``,
  whose names include Amazon). Ids the vocabulary does not know are compared with
  the extractor's ids for organisations outside the vocabulary (their slug).

Each labelled fact is then **found** (a matching fact credited to its company),
**misattributed** (no such fact, but a matching fact credited to another company:
a wrong owner, not a missing one), or **missed** (nothing, or only facts credited
to nobody). A model name is **found** when a term hit's text equals it as spelled,
whitespace folded; extra hits are not scored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.values import Extraction, Fact, Vocabulary
from tests.eval.news_dev import Article, LabelledFact

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SIMPLE_UNITS = {"percent": ("percent",), "count": ("count",), "points": ("points",),
                 "ratio": ("ratio",)}  # fmt: skip


def slug(name: str) -> str:
    return _NON_ALNUM.sub("_", name.lower()).strip("_")


def entity_map(vocab: Vocabulary) -> dict[str, str]:
    """Label id -> vocabulary id, for every id and name slug the vocabulary holds."""
    out: dict[str, str] = {}
    for ent in vocab.entities:
        for name in ent.names:
            out.setdefault(slug(name), ent.id)
    for ent in vocab.entities:
        out[ent.id] = ent.id  # an id wins over another entity's name
    return out


def _close(a: float, b: float) -> bool:
    return math.isclose(abs(a), abs(b), rel_tol=1e-6, abs_tol=1e-12)


def value_matches(label: LabelledFact, fact: Fact) -> bool:
    unit = label.unit
    if unit in _SIMPLE_UNITS or not unit.isupper() or len(unit) != 3:
        allowed = _SIMPLE_UNITS.get(unit, (unit.casefold(),))
        if fact.unit.casefold() not in allowed:
            return False
        amounts = [(fact.value, fact.value_high)]
    else:  # a currency code
        if fact.unit != "money":
            return False
        amounts = []
        if fact.currency == unit:
            amounts.append((fact.value, fact.value_high))
        if fact.alt_currency == unit and fact.alt_value is not None:
            amounts.append((fact.alt_value, None))
    for value, high in amounts:
        if label.value_low is not None:
            if high is not None and _close(value, label.value_low) and _close(high, label.value):
                return True
        elif _close(value, label.value) and (high is None or _close(high, label.value)):
            return True
    return False


def _quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    spans = []
    at = text.find(quote)
    while at != -1:
        spans.append((at, at + len(quote)))
        at = text.find(quote, at + 1)
    return spans


@dataclass
class FileScore:
    file: str
    facts: int = 0
    found: int = 0
    misattributed: int = 0
    terms: int = 0
    terms_found: int = 0
    notes: list[str] = field(default_factory=list)  # what was missed or misattributed

    def add(self, other: FileScore) -> None:
        self.facts += other.facts
        self.found += other.found
        self.misattributed += other.misattributed
        self.terms += other.terms
        self.terms_found += other.terms_found


def score_article(article: Article, result: Extraction, ids: dict[str, str]) -> FileScore:
    score = FileScore(article.file, facts=len(article.facts), terms=len(article.terms))
    for label in article.facts:
        want = ids.get(label.entity, label.entity)
        spans = _quote_spans(article.text, label.quote)
        candidates = [
            f
            for f in result.facts
            if any(f.span[0] < e and s < f.span[1] for s, e in spans) and value_matches(label, f)
        ]
        if any(f.entity == want for f in candidates):
            score.found += 1
            continue
        wrong = sorted({f.entity for f in candidates if f.entity is not None})
        if wrong:
            score.misattributed += 1
            score.notes.append(
                f"misattributed to {', '.join(wrong)}: {label.entity} {label.quote!r}"
            )
        else:
            where = "" if spans else " (quote not in body)"
            score.notes.append(
                f"missed{where}: {label.entity} {label.value:g} {label.unit} {label.quote!r}"
            )
    hits = {" ".join(t.term.split()) for t in result.terms}
    for term in article.terms:
        if " ".join(term.split()) in hits:
            score.terms_found += 1
        else:
            score.notes.append(f"model name missed: {term!r}")
    return score


def total(scores: Iterable[FileScore], name: str = "TOTAL") -> FileScore:
    out = FileScore(name)
    for s in scores:
        out.add(s)
    return out
