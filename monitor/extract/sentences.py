"""Split cleaned article text into sentences, keeping character offsets.

Every fact quotes the sentence it came from and carries a span into the article
text, so sentences are (start, end) ranges over the original string, never copies
with rewritten whitespace.

The texts are scraped news: a stripped ticker link leaves a line break inside a
sentence ("over rivals like\\nand Tencent"), and a removed citation link can glue
two sentences together ("shareholder returns.Alibaba's capital ...",
"Tencent[11].Despite ..."). Both are handled here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

# Abbreviations whose period does not end a sentence ("U.S. export controls",
# "vs. Microsoft's 35x", "Dec. 6"). Compared case-sensitively, without the dot.
_ABBREVIATIONS = frozenset(
    {
        "U.S", "U.K", "U.N", "E.U", "Inc", "Corp", "Co", "Ltd", "Mr", "Mrs", "Ms", "Dr",
        "St", "No", "vs", "etc", "e.g", "i.e", "approx", "Jan", "Feb", "Mar", "Apr", "Jun",
        "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "Fig", "est", "Jr", "Sr",
    }
)  # fmt: skip

# A boundary is terminal punctuation (with closing quotes or brackets and citation
# markers such as "[11]") followed by whitespace or glued to a capital letter, a
# blank line, or a line break. One scan finds every candidate with the text around
# it that decides it; the pattern starts with a one-character class so that the C
# engine skips to candidates (issue 5, point 8), and matches never overlap, so
# "?!" or a blank line with trailing spaces is one candidate:
#
# * ``gap``: a blank line (``\n[ \t]*\n`` and the whitespace after it);
# * ``nl``: the first visible character within 40 after a single line break;
# * otherwise terminal punctuation, closers and citations ("!)", ".”[3][4]"). A
#   decimal point ("4.35") is no candidate.
_SCAN = re.compile(
    r"""[.!?\n](?:
        (?<=\n)(?:(?P<gap>[ \t]*\n\s*)|(?=\s{0,39}(?P<nl>\S))?)
      | (?!(?<=\.)\d)[.!?]*["'”’)\]]*(?:\[\d+\])*)""",
    re.VERBOSE,
)
_CLOSERS = "\"'”’)]"
_VISIBLE = re.compile(r"\S")
_TERMINAL = frozenset(".!?:\"'”’)]-•")


class Sentence(NamedTuple):
    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[Sentence]:
    """Return the sentences of ``text`` in order, trimmed, with their offsets."""
    out: list[Sentence] = []
    begin = 0
    for cut in [*sentence_cuts(text), len(text)]:
        piece = text[begin:cut]
        body = piece.strip()
        if body:
            # The first visible character opens the body: cheaper than lstrip().
            start = begin + piece.find(body[0])
            out.append(Sentence(start, start + len(body), body))
        begin = cut
    return out


def sentence_cuts(text: str) -> list[int]:
    """Where sentences end, in order: the pieces between cuts, trimmed, are sentences."""
    return list(iter_cuts(text))


def iter_cuts(text: str, start: int = 0) -> Iterator[int]:
    """The cuts at or after ``start``, in order (a cut may repeat), found on demand.

    ``start`` must be 0 or follow a letter (see ``safe_start``).
    """
    n = len(text)
    for m in _SCAN.finditer(text, start):
        i, e = m.span()
        if text[i] == "\n":
            gap_end = m.end("gap")
            if gap_end != -1:
                # The gap swallowed all whitespace: what follows it is visible.
                nxt = text[gap_end] if gap_end < n else ""
                # A paragraph break right after a stripped link ("lags behind\n\n(20%)
                # and AWS (29%)", "Additionally,\n\npales in comparison") is not a
                # boundary.
                if nxt and (nxt.islower() or nxt in "(,;:"):
                    prev = text[max(0, i - 40) : i].rstrip()[-1:]
                    if prev not in _TERMINAL:
                        continue
                yield i
                continue
            # A single line break inside a paragraph usually marks a stripped inline
            # element ("rivals like\nand Tencent"): only a capital, digit, bullet or
            # opening bracket after it starts a new sentence.
            nxt = m.group("nl")
            if nxt is None or nxt.islower() or nxt in ",;:":
                continue
            yield i
            continue
        if e == i + 1 and i + 1 < n and text[i] == "." and text[i + 1].isdigit():
            continue  # a decimal point written with a digit the pattern's \d misses
        if e < n:
            c = text[e]
            if not (c.isspace() or c.isupper() or c in '“"'):
                continue
        if text[i] != "." or len(text[i:e].rstrip(_CLOSERS)) != 1 or _ends_sentence(text, i, e):
            yield e


def safe_start(text: str, pos: int) -> int:
    """The last place at or before ``pos`` where a scan for cuts may start.

    No candidate holds a letter, so none straddles a place right after one: a scan
    started there finds exactly the candidates a scan of the whole text finds after
    it. (0 is always such a place.)
    """
    while pos > 0 and not text[pos - 1].isalpha():
        pos -= 1
    return pos


def _ends_sentence(text: str, start: int, end: int) -> bool:
    """Does a lone full stop at ``text[start]`` (closers up to ``end``) end a sentence?"""
    before = text[start - 1] if start > 0 else ""
    # Only a token ending in a letter (or a space before the dot) can be an
    # abbreviation or an initial.
    if before.isalpha() or before.isspace():
        tail = text[max(0, start - 12) : start].split()
        token = tail[-1].lstrip("(\"'“‘") if tail else ""
        if (
            token
            and token[0].isalpha()
            and (token in _ABBREVIATIONS or (len(token) == 1 and token.isupper()))
        ):
            return False
    if end < len(text) and not text[end].isspace():
        # Glued: "returns.Alibaba" is a lost space, but "U.S" and "3.5" are not;
        # require a lower-case letter or closing bracket before the dot.
        if not (before.islower() or before in "])"):  # "" (the text start) is in any str
            return False
    elif before.isdigit() and end < len(text):
        # "... to $4.35 billion[8]. " is fine; "Q3 2025. Next" too. Only a
        # number followed by a lower-case continuation is not a boundary.
        nxt = _VISIBLE.search(text, end, end + 40)
        if nxt is not None and nxt.group().islower():
            return False
    return True
