"""What the words around a number say about it: period, direction, scope, basis.

* period: ``over the next three years`` -> "next 3 years", ``Q3 2025``, ``FY2025``,
  ``2025``, ``year to date`` -> "YTD", ``for nine consecutive quarters`` ->
  "9 consecutive quarters"; ``year-over-year`` is appended (", year-over-year") since it
  says what a change is measured against.
* direction: is a percentage a level ("36% market share") or a change ("grew 34%",
  "declined 76%")? A fall makes the value negative.
* qualifiers (issue 5): ``scope`` global|china for shares, so a global and a China
  share are separate series; ``basis`` forward|trailing for valuation multiples.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
    "twenty": 20, "a": 1,
}  # fmt: skip
_N = r"\d{1,2}|" + "|".join(k for k in _WORD_NUMBERS if k != "a")
_SPAN_WORDS = ("over", "across", "during", "within")
_ORDINAL_Q = {"first": "Q1", "second": "Q2", "third": "Q3", "fourth": "Q4"}

# Run on the lowered sentence at the places ``_ANCHOR`` finds (see ``periods_in``).
_PERIOD = re.compile(
    rf"""
    (?P<q>\b(?:q(?P<qn>[1-4])|(?P<qw>first|second|third|fourth)[\s-]quarter)
        (?:\s(?:of\s)?(?:fiscal\s|fy\s?)?(?P<qy>(?:19|20)\d\d))?\b)
    | (?P<fy>\b(?:fy\s?|fiscal\s(?:year\s)?)(?P<fyn>(?:19|20)?\d\d)\b)
    | (?P<multi>\b(?:(?:over|across|during|within|in)\s)?(?:the\s)?
        (?P<dir>next|coming|past|last|previous)?\s?
        (?P<mn>{_N})[\s-](?P<unit>years?|quarters?|months?)\b(?!\s(?:ago|old)))
    | (?P<streak>\b(?:for\s)?(?P<sn>{_N})\s(?:consecutive|straight|successive)\s
        (?P<sunit>quarters|years|months)\b)
    | (?P<ytd>\b(?:year[\s-]to[\s-]date|ytd)\b)
    | (?P<yr>\b(?P<y1>(?:19|20)\d\d)(?:\s?[-–/]\s?(?P<y2>(?:19|20)\d\d))?\b)
    """,
    re.VERBOSE,
)
# Everything below runs on the lowered sentence, and each pattern starts with
# literal characters so that the engine can skip to plausible places (issue 5,
# point 8: a case-insensitive alternation tried at every character is slow).
_ANCHOR = re.compile(
    r"q[1-4]|f(?:irst|ourth|y|iscal)|s(?:econd|traight|uccessive)|third|y(?:ear|td)"
    r"|quarter|month|consecutive|19\d\d|20\d\d"
)
_SPAN_BEFORE = frozenset({"over", "across", "during", "within", "in", "for"})
_DIRECTION_WORDS = frozenset({"next", "coming", "past", "last", "previous"})
_BROAD_BEFORE = re.compile(r"(?:as\sof|as\sat|through|during)\s+(?:the\s)?(?:end\sof\s)?$")
_YOY = re.compile(r"year[- ](?:over|on)[- ]year|yoy|y/y")
_QOQ = re.compile(r"quarter[- ](?:over|on)[- ]quarter|qoq|q/q|sequential")
# ``_QOQ`` without its "sequential" branch: a pattern whose branches open with two
# different letters is tried at every character, one opening with "q" is skipped to
# by the engine (issue 5, point 8); "sequential" is a plain substring search.
_QOQ_Q = re.compile(r"quarter[- ](?:over|on)[- ]quarter|qoq|q/q")


def _has_qoq(low: str, lo: int, hi: int) -> bool:
    """Does ``_QOQ`` match in ``low[lo:hi]``?"""
    return low.find("sequential", lo, hi) != -1 or _QOQ_Q.search(low, lo, hi) is not None


_UP = frozenset(
    {
        "grow", "grows", "grew", "grown", "growing", "growth", "rose", "rise", "rises", "rising",
        "increase", "increases", "increased", "increasing", "surge", "surges", "surged", "surging",
        "jump", "jumps", "jumped", "soar", "soars", "soared", "soaring", "climb", "climbs",
        "climbed", "climbing", "gain", "gains", "gained", "up", "higher", "expand", "expands",
        "expanded", "rally", "rallied", "rallies", "advance", "advanced", "advances", "boost",
        "boosts", "boosted", "accelerate", "accelerated", "accelerates", "accelerating",
        "acceleration", "double", "doubled", "doubles", "doubling", "added", "annually", "risen",
        "improve", "improved", "improves", "rebound", "rebounds", "rebounded", "spike", "spiked",
        "spikes", "year-over-year", "year-on-year", "yoy", "y/y",
    }
)  # fmt: skip
_DOWN = frozenset(
    {
        "fell", "fall", "falls", "falling", "fallen", "decline", "declines", "declined",
        "declining", "drop", "drops", "dropped", "decrease", "decreases", "decreased", "down",
        "lower", "plunge", "plunges", "plunged", "slump", "slumps", "slumped", "shrank", "shrink",
        "shrinks", "shrunk", "contract", "contracts", "contracted", "contraction", "slid", "slide",
        "slides", "tumble", "tumbles", "tumbled", "cut", "cuts", "slash", "slashes", "slashed",
        "reduce", "reduced", "reduces", "reduction", "loss", "lost", "slip", "slips", "slipped",
        "sank", "sunk", "sink", "sinks", "ease", "eased", "eases", "retreat", "retreats",
        "retreated", "dip", "dips", "dipped",
    }
)  # fmt: skip
_FILLER = frozenset({"by", "of", "at", "a", "an", "about"})
# "rose to 36%", "a share of 4%", "reaching 1%": the number is a level, not a change.
_LEVEL_WORDS = frozenset({"to", "at", "of", "from", "reach", "reaches", "reached", "reaching"})
_PUNCT = ",.;:!?()[]\"'”’“"

_SCOPE = re.compile(
    r"(?:g(?P<global>lobal(?:ly)?)|w(?P<global2>orldwide|orld(?:'s|’s)?)"
    r"|i(?P<global3>nternational(?:ly)?)"
    r"|c(?P<china>hina(?:'s|’s)?|hinese)|d(?P<china2>omestic(?:ally)?)|m(?P<china3>ainland))"
    r"(?![a-z])"
)
_BASIS = re.compile(
    r"(?:f(?P<forward>orward|wd)|n(?P<forward2>tm|ext[\s-]twelve[\s-]months|ext[\s-]12[\s-]months)"
    r"|o(?P<forward3>ne[\s-]year[\s-]forward)"
    r"|t(?P<trailing>railing(?=\s(?:p/e|pe|p/s|twelve|12|price|earnings|multiple|sales))|tm)"
    r"|l(?P<trailing2>tm))(?![a-z])"
)


class Period(NamedTuple):
    start: int  # offsets in the sentence
    end: int
    label: str
    streak: bool  # "for nine consecutive quarters": dates qualitative growth only
    broad: bool  # "as of Q3 2025", "In FY2025, ...": applies to the whole sentence


def periods_in(low: str, lead_end: int) -> list[Period]:
    """The periods named in a lowered sentence, in order.

    ``lead_end`` is where the sentence's first number starts: a period before it is
    part of the subject ("Alibaba's FY2025 net income surged 62% to RMB 130 billion")
    and dates every number of the sentence.
    """
    found: list[Period] = []
    consumed = 0
    for a in _ANCHOR.finditer(low):
        at = a.start()
        if at < consumed or (at and low[at - 1].isalnum()):
            continue
        m = None
        for start in _starts_for(low, at):
            m = _PERIOD.match(low, start)
            if m is not None and m.end() > at:
                break
            m = None
        if m is None:
            continue
        consumed = m.end()
        label = _period_label(m)
        if label is not None:
            before = low[max(0, m.start() - 25) : m.start()]
            broad = m.end() <= lead_end or _BROAD_BEFORE.search(before) is not None
            found.append(Period(m.start(), m.end(), label, m.lastgroup == "streak", broad))
    return found


# What may stand before an anchor, nearest first: its number (None: checked apart),
# a direction, "the", a span word.
_WORDS_BEFORE: tuple[frozenset[str] | None, ...] = (
    None, _DIRECTION_WORDS, frozenset({"the"}), _SPAN_BEFORE,
)  # fmt: skip


def _starts_for(low: str, at: int) -> list[int]:
    """Where a period holding the anchor word at ``at`` may begin, earliest first.

    "over the next three years" and "for nine consecutive quarters" begin words
    before their anchor ("years", "consecutive"); the other forms begin at it.
    """
    starts = [at]
    pos = at
    for allowed in _WORDS_BEFORE:
        word_end = pos - 1  # skip the separator before the anchor or word
        if word_end <= 0 or low[word_end] not in " -":
            break
        word_start = word_end
        while word_start > 0 and low[word_start - 1].isalnum():
            word_start -= 1
        word = low[word_start:word_end]
        if allowed is None:
            if not (word.isdigit() or word in _WORD_NUMBERS):
                break  # the unit must follow a number
        elif word not in allowed:
            continue
        starts.insert(0, word_start)
        pos = word_start
    return starts


def _period_label(m: re.Match[str]) -> str | None:
    kind = m.lastgroup
    if kind == "q":
        quarter = f"Q{m['qn']}" if m["qn"] else _ORDINAL_Q[m["qw"].lower()]
        return f"{quarter} {m['qy']}" if m["qy"] else quarter
    if kind == "fy":
        year = m["fyn"]
        return f"FY{'20' + year if len(year) == 2 else year}"
    if kind == "multi":
        n = _number(m["mn"])
        unit = m["unit"].lower().rstrip("s")
        direction = (m["dir"] or "").lower()
        if n is None:
            return None
        if not direction and not m.group(0).lower().startswith(_SPAN_WORDS) and "-" not in m[0]:
            return None  # "3 years" alone is too vague to be a period
        if direction:
            when = "past" if direction in ("past", "last", "previous") else "next"
        else:
            # Unstated direction: news speaks of plans in years ("a three-year plan",
            # "investing $53B over three years") and of results in quarters ("over
            # four quarters, the company allocated ...").
            when = "next" if unit == "year" else "past"
        return f"{when} {n} {unit}{'s' if n != 1 else ''}"
    if kind == "streak":
        n = _number(m["sn"])
        return None if n is None else f"{n} consecutive {m['sunit'].lower()}"
    if kind == "ytd":
        return "YTD"
    if kind == "yr":
        return f"{m['y1']}-{m['y2']}" if m["y2"] else m["y1"]
    return None


def _number(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    return _WORD_NUMBERS.get(word.lower())


def comparison_marks(low: str) -> tuple[bool, bool]:
    """Does the lowered sentence say "year-over-year" / "quarter-over-quarter" anywhere?

    Asked once per sentence: a number's own stretch can only hold such a phrase if
    the sentence does, so most numbers skip both searches in ``period_for``.
    """
    return _YOY.search(low) is not None, _has_qoq(low, 0, len(low))


def period_for(
    low: str,
    found: list[Period],
    start: int,
    end: int,
    unit: str,
    owned: tuple[int, int],
    marks: tuple[bool, bool] = (True, True),
) -> str | None:
    """The period nearest a number at ``low[start:end]`` (the lowered sentence).

    ``owned`` is the stretch of the sentence closer to this number than to any
    other; only a period there counts, so "surged 62% in FY2025 ... RMB 130 billion in
    Q4" gives each number its own. A broad period ("as of Q3 2025") reaches further.
    """
    best: tuple[int, str] | None = None
    for p in found:
        if p.streak and unit != "growth":
            continue
        if p.start <= start < p.end:
            continue  # the number is part of the period itself
        dist = p.start - end if p.start >= end else start - p.end
        if not owned[0] <= p.start < owned[1]:
            if not p.broad:
                continue
            dist += 60
        if p.streak:
            dist -= 30  # "triple-digit growth for nine consecutive quarters in 2024"
        if best is None or dist < best[0]:
            best = (dist, p.label)
    label = best[1] if best is not None and best[0] <= 120 else None
    if marks[0] and _YOY.search(low, owned[0], owned[1]):
        label = f"{label}, year-over-year" if label else "year-over-year"
    elif marks[1] and _has_qoq(low, owned[0], owned[1]):
        label = f"{label}, quarter-over-quarter" if label else "quarter-over-quarter"
    return label


def change_direction(before: str, after: str) -> str | None:
    """ "up", "down" or None (a level) for a percentage from the words beside it."""
    words = before[-40:].lower().replace("(", " ").split()
    if words and words[-1].strip(_PUNCT) in _LEVEL_WORDS:
        return None
    for w in reversed(words):
        w = w.strip(_PUNCT)
        if w in _FILLER:
            continue
        if w in _UP or w in _DOWN:
            return "down" if w in _DOWN else "up"
        break
    # "34% year-over-year revenue surge", "333% net income jump": up to 4 words after.
    tokens = after[:40].lower().split()
    for i, raw in enumerate(tokens[:4]):
        w = raw.strip(_PUNCT)
        if w in _UP or w in _DOWN:
            return "down" if w in _DOWN else "up"
        if i + 2 < len(tokens) and w == "year" and tokens[i + 1] in ("over", "on"):
            return "up"
        if raw != w or not w:
            break  # punctuation ends the phrase that describes the number
    return None


def scopes_in(low: str) -> list[tuple[int, int, str]]:
    """(start, end, global | china) for every scope word of a lowered sentence."""
    out: list[tuple[int, int, str]] = []
    for m in _SCOPE.finditer(low):
        if m.start() and low[m.start() - 1].isalpha():
            continue
        scope = "china" if (m["china"] or m["china2"] or m["china3"]) else "global"
        out.append((m.start(), m.end(), scope))
    return out


def scope_for(
    scopes: list[tuple[int, int, str]], start: int, end: int, owned: tuple[int, int]
) -> str | None:
    """The scope word nearest the number at ``start:end`` in its sentence.

    A scope word in the number's own stretch wins ("leads China's cloud market with
    36% but holds 4% globally" gives 36% china and 4% global).
    """
    return _nearest(scopes, start, end, owned)


def bases_in(low: str) -> list[tuple[int, int, str]]:
    """(start, end, forward | trailing) for every basis word of a lowered sentence."""
    out: list[tuple[int, int, str]] = []
    for m in _BASIS.finditer(low):
        if m.start() and low[m.start() - 1].isalpha():
            continue
        basis = "trailing" if (m["trailing"] or m["trailing2"]) else "forward"
        out.append((m.start(), m.end(), basis))
    return out


def basis_for(bases: list[tuple[int, int, str]], start: int, end: int) -> str | None:
    """forward | trailing for a valuation multiple, from the nearest basis word."""
    return _nearest(bases, start, end, None)


def _nearest(
    found: list[tuple[int, int, str]], start: int, end: int, owned: tuple[int, int] | None
) -> str | None:
    best: tuple[int, str] | None = None
    for s, e, label in found:
        dist = abs(s - end if s >= end else start - e)
        if owned is not None and not owned[0] <= s < owned[1]:
            dist += 1000
        if best is None or dist < best[0]:
            best = (dist, label)
    return best[1] if best is not None else None
