"""Companies the vocabulary does not know, found by how news names a company.

A figure next to "Moore Threads Technology Co." or "rival Biren" belongs to that
company, not to the article's main one (issue 13). Without a name list, a run of
capitalised words counts as an organisation only with a company cue:

* a legal or business word after it: "Biren Technology", "Moore Threads Technology
  Co.", "Horizon Robotics", "Scope Group" (``org_cues``; found by the vocabulary's
  own name scan, so they cost no scan of their own);
* a ticker in brackets with its exchange or listing code: "Nebius (NASDAQ: NBIS)",
  "Enflame (688123.SH)";
* a word that introduces a company: "rival Biren", "startup Manus", "chipmaker Hygon";
* a possessive before a company's things: "Hygon's revenue", "Enflame's shares";
* a name that reports "its" figures ("Naver reported its cloud revenue"), and a name after
  a place's "-based" ("Heidelberg-based Aleph Alpha").

Each organisation gets a slug id (lower case, legal words dropped: "Moore Threads
Technology Co." -> ``moore_threads``), so an analyst who later adds the company to
the vocabulary under that id finds its past figures. Later bare mentions of the
name ("Moore Threads said ...") count too.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from typing import NamedTuple

from monitor.extract.entities import Mention
from monitor.extract.org_cues import LEGAL

# With its exchange or a numeric listing code: a bare "(VEU)" defines an acronym.
_TICKER = re.compile(
    r"\((?:(?:NASDAQ|Nasdaq|NYSE|HKEX|HKG|SSE|SZSE|OTC|TSX|LSE|KRX|TYO)\s?:\s?[A-Z]{1,5}"
    r"|[0-9]{4,6}\.[A-Z]{1,2})\)"
)
_INTRO = ("rival", "startup", "start-up", "chipmaker")
_THINGS = frozenset(
    {"shares", "stock", "revenue", "revenues", "sales", "profit", "profits", "earnings",
     "capex", "valuation", "market", "chip", "chips", "GPU", "GPUs", "model", "models", "IPO",
     "top", "bottom", "quarterly", "annual", "fiscal", "net", "operating", "gross", "margin",
     "margins", "income", "cloud", "infrastructure", "business", "businesses", "unit",
     "results", "guidance", "outlook", "forecast", "dividend", "buyback", "debt", "cash",
     "spending", "investment", "investments", "servers", "data", "customers", "subscribers",
     "platform", "products", "smartphone", "smartphones", "factories", "fabs", "orders",
     "backlog", "board", "stake", "bonds"}
)  # fmt: skip
# "Naver reported its cloud revenue rose": a name that reports "its" figures is a company
# (not "said its" or "expects its": "Chief executive Eddie Wu said its cloud revenue ..."
# speaks of the company named before, and made the person a company)
_SAYS = frozenset(
    {"reported", "posted", "announced", "raised", "lifted", "lowered", "forecast", "booked",
     "swung", "narrowed", "widened", "doubled", "tripled"}
)  # fmt: skip
_BASED = "-based "  # "Heidelberg-based Aleph Alpha"
_NAME_WORD = re.compile(r"[A-Z][A-Za-z0-9&-]*(?:\.[A-Za-z0-9]+)*|[0-9]+[A-Za-z][A-Za-z0-9]*")
# Capitalised words that open sentences or name places, days and roles, not companies.
_NOT_NAMES = frozenset(
    {"The", "A", "An", "This", "That", "These", "Those", "Its", "It", "Their", "Our", "We",
     "They", "He", "She", "In", "On", "At", "For", "With", "By", "From", "As", "And", "But",
     "Or", "If", "While", "When", "After", "Before", "Since", "Meanwhile", "However",
     "According", "Also", "Chinese", "China", "US", "U.S.", "USA", "America", "American",
     "Americans", "Europe", "European", "EU", "Japan", "Japanese", "Korea", "Korean", "India",
     "Indian", "Taiwan", "Taiwanese", "Hong", "Kong", "Beijing", "Shanghai", "Shenzhen",
     "Washington", "Silicon", "Valley", "Wall", "Street", "Asia", "Asian", "Global", "World",
     "National", "State", "Federal", "Commerce", "Department", "Ministry", "Government",
     "Administration", "Congress", "Senate", "President", "CEO", "CFO", "Chairman", "Analyst",
     "Analysts", "Investors", "Generative", "Artificial", "Intelligence", "Open", "Cloud",
     "Chip", "Chips", "Tech", "Technology", "Big", "New", "Other", "Many", "Most", "Some",
     "All", "Each", "Both", "Several", "January", "February", "March", "April", "May", "June",
     "July", "August", "September", "October", "November", "December", "Monday", "Tuesday",
     "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Today", "Join", "Read",
     "Subscribe", "Q1", "Q2", "Q3", "Q4", "H1", "H2", "FY", "AI"}
)  # fmt: skip
_ABBREVIATIONS = frozenset({"Inc", "Corp", "Co", "Ltd"})
_MAX_WORDS = 4
_REACH = 60  # characters looked at before a cue


class Organisation(NamedTuple):
    id: str  # slug
    name: str  # as first written, with its suffix
    core: str  # the name without its legal words, for later bare mentions


def find_organisations(
    folded: str, known: list[Mention], suffixes: list[tuple[int, int]]
) -> tuple[list[Mention], dict[str, str]]:
    """Mentions of organisations outside the vocabulary, and slug -> name as written.

    ``known``: the vocabulary's mentions (a name overlapping one is not new);
    ``suffixes``: the spans of cue words the name scan found.
    """
    candidates: list[tuple[int, int, int]] = []  # name start, core end, name end
    for group in _chains(folded, suffixes):
        span = _name_before(folded, group[0][0])
        if span is not None:
            candidates.append(_with_suffix(folded, span, group))
    for m in _TICKER.finditer(folded):
        span = _name_before(folded, m.start() - (folded[m.start() - 1 : m.start()] == " "))
        if span is not None:
            candidates.append((span[0], span[1], span[1]))
    for apostrophe in ("’s ", "'s "):
        at = folded.find(apostrophe)
        while at != -1:
            nxt = folded[at + 3 : at + 19].split(" ", 1)[0].rstrip(".,;:")  # the longest thing
            if nxt in _THINGS:
                span = _name_before(folded, at)
                if span is not None:
                    candidates.append((span[0], span[1], span[1]))
            at = folded.find(apostrophe, at + 3)
    at = folded.find(" its ")
    while at != -1:  # a few in an article: each looks at the word before it
        verb_at = folded.rfind(" ", max(0, at - 12), at)
        if verb_at != -1 and folded[verb_at + 1 : at] in _SAYS:
            span = _name_before(folded, verb_at)
            if span is not None:
                candidates.append((span[0], span[1], span[1]))
        at = folded.find(" its ", at + 4)
    at = folded.find(_BASED)
    while at != -1:
        span = _name_after(folded, at + len(_BASED))
        if span is not None:
            candidates.append((span[0], span[1], span[1]))
        at = folded.find(_BASED, at + len(_BASED))
    for intro in _INTRO:
        at = folded.find(intro)
        while at != -1:
            after = at + len(intro) + (folded.startswith("s ", at + len(intro)))
            if folded.startswith(" ", after) and (at == 0 or not folded[at - 1].isalnum()):
                span = _name_after(folded, after + 1)
                if span is not None:
                    candidates.append((span[0], span[1], span[1]))
            at = folded.find(intro, at + len(intro))
    if not candidates:
        return [], {}
    taken = _Spans((m.start, m.end) for m in known)
    found: dict[str, Organisation] = {}
    out: list[Mention] = []
    for s, core_end, e in sorted(candidates):
        if taken.overlaps(s, e):
            continue
        org = Organisation(_slug(folded[s:core_end]), folded[s:e], folded[s:core_end])
        if not org.id:
            continue
        found.setdefault(org.id, org)
        out.append(Mention(s, e, org.id))
        taken.add(s, e)
    # Later bare mentions of a name already recognised.
    for at, end, org in _bare_mentions(folded, list(found.values())):
        if _whole_word(folded, at, end) and not taken.overlaps(at, end):
            out.append(Mention(at, end, org.id))
            taken.add(at, end)
    out.sort()
    return out, {k: v.name for k, v in found.items()}


class _Spans:
    """Spans of the text already taken, sorted: whether a new one overlaps one of them is
    two comparisons, not one per span (an article naming thousands of companies took a
    time that grew with the square of their number)."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        self.spans: list[tuple[int, int]] = []
        for s, e in spans:
            self.add(s, e)

    def overlaps(self, s: int, e: int) -> bool:
        spans = self.spans
        i = bisect.bisect_left(spans, (s, s))
        # spans ordered by start; the one before may reach into [s, e), the ones from i on
        # start at or after s
        if i and spans[i - 1][1] > s:
            return True
        return i < len(spans) and spans[i][0] < e

    def add(self, s: int, e: int) -> None:
        bisect.insort(self.spans, (s, e))


# Past this many names, their later mentions are found in one pass over the words of the
# text instead of one search of the whole text per name. Below it the searches win: two
# names in a news article cost 4 µs searched, 160 µs in a pass over its words.
_SEARCHED_ONE_BY_ONE = 8
_WORD = re.compile(r"\w+")


def _bare_mentions(folded: str, orgs: list[Organisation]) -> list[tuple[int, int, Organisation]]:
    """Each place a recognised name's core appears, in the order the names were found (the
    first found claims a place), then in text order."""
    by_word: dict[str, list[Organisation]] = {}
    one_by_one: list[Organisation] = []
    for org in orgs:
        first = _WORD.match(org.core) if len(orgs) > _SEARCHED_ONE_BY_ONE else None
        if first is None:  # few names, or one not starting with a word: searched alone
            one_by_one.append(org)
        else:
            by_word.setdefault(first.group(), []).append(org)
    rank = {id(org): i for i, org in enumerate(orgs)}
    hits = []
    for org in one_by_one:
        at = folded.find(org.core)
        while at != -1:
            end = at + len(org.core)
            hits.append((rank[id(org)], at, end, org))
            at = folded.find(org.core, end)
    for m in _WORD.finditer(folded) if by_word else ():
        for org in by_word.get(m.group(), ()):
            if folded.startswith(org.core, m.start()):
                hits.append((rank[id(org)], m.start(), m.start() + len(org.core), org))
    hits.sort(key=lambda h: (h[0], h[1]))
    return [(at, end, org) for _, at, end, org in hits]


def title_names(title: str) -> list[str]:
    """The slugs a company named by one word of ``title`` would have ("Nebius Doubles
    Down" -> nebius, doubles, down), in order, without the words that name no company."""
    out: list[str] = []
    for m in _NAME_WORD.finditer(title):
        word = m.group().rstrip(".")
        if word in _NOT_NAMES or word.rstrip("'’s") in _NOT_NAMES:
            continue
        slug = _slug(word.removesuffix("'s").removesuffix("’s"))
        if slug and slug not in out:
            out.append(slug)
    return out


def organisation_mentions(text: str, names: dict[str, str]) -> list[Mention]:
    """Mentions in ``text`` (a title) of organisations the body named: slug -> name."""
    out: list[Mention] = []
    for org_id, name in names.items():
        at = text.find(name)
        if at != -1 and _whole_word(text, at, at + len(name)):
            out.append(Mention(at, at + len(name), org_id))
    return out


def _chains(text: str, suffixes: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Cue words that follow one another ("Technology Co., Ltd.") as one suffix."""
    out: list[list[tuple[int, int]]] = []
    for s, e in suffixes:
        if out and text[out[-1][-1][1] : s].strip(" .,") == "" and s - out[-1][-1][1] <= 3:
            out[-1].append((s, e))
        else:
            out.append([(s, e)])
    return out


def _with_suffix(
    text: str, span: tuple[int, int], group: list[tuple[int, int]]
) -> tuple[int, int, int]:
    """(start, end of the name proper, end with the suffix) for a name and its cue words.

    "Horizon Robotics": a business word belongs to the name; "Technology Co." and
    other legal words do not.
    """
    core_end = span[1]
    for s, e in group:
        if text[s:e] in LEGAL:
            break
        core_end = e
    end = group[-1][1]
    if text[group[-1][0] : end] in _ABBREVIATIONS and text.startswith(".", end):
        end += 1  # "Co."
    return span[0], core_end, end


def _name_before(text: str, at: int) -> tuple[int, int] | None:
    """The run of capitalised words that ends just before ``at`` (one space apart)."""
    lo = max(0, at - _REACH)
    words = list(_NAME_WORD.finditer(text, lo, at))
    picked: list[re.Match[str]] = []
    end = at
    for w in reversed(words):
        gap = text[w.end() : end]
        if gap not in ("", " ") or w.group() in _NOT_NAMES:
            break  # punctuation, a paragraph break, or a word that is not a name
        picked.append(w)
        end = w.start()
        if len(picked) == _MAX_WORDS:
            break
    if not picked:
        return None
    first = picked[-1]
    if first.start() > 0 and (text[first.start() - 1].isalnum() or text[first.start() - 1] in "-."):
        return None
    return first.start(), picked[0].end()


def _name_after(text: str, at: int) -> tuple[int, int] | None:
    picked: list[re.Match[str]] = []
    pos = at
    while len(picked) < _MAX_WORDS:
        w = _NAME_WORD.match(text, pos)
        if w is None or w.group() in _NOT_NAMES:
            break
        picked.append(w)
        if text.startswith(" ", w.end()) and _NAME_WORD.match(text, w.end() + 1):
            pos = w.end() + 1
            continue
        break
    if not picked:
        return None
    end = picked[-1].end()
    if text[end - 1] == ".":
        end -= 1  # the sentence's full stop
    return picked[0].start(), end


def _whole_word(text: str, start: int, end: int) -> bool:
    return (start == 0 or not text[start - 1].isalnum()) and (
        end == len(text) or not text[end].isalnum()
    )


_SLUG = re.compile(r"[^a-z0-9]+")


def _slug(name: str) -> str:
    words = [w for w in name.split() if w.rstrip(".,") not in LEGAL]
    return _SLUG.sub("_", " ".join(words).lower()).strip("_")
