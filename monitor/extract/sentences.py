"""Split cleaned article text into sentences, keeping character offsets.

Every fact quotes the sentence it came from and carries a span into the article
text, so sentences are (start, end) ranges over the original string, never copies
with rewritten whitespace.

The texts are scraped news: a stripped ticker link leaves a line break inside a
sentence ("over rivals like\\nand Tencent"), and a removed citation link can glue
two sentences together ("shareholder returns.Alibaba's capital ...",
"Tencent[11].Despite ..."). Both are handled here.

``split_sentences`` splits a whole text; ``Pieces`` finds the sentences around given
places only, with the same answers (the extractor needs the dozen sentences that
hold a number, not the fifty an article has).
"""

from __future__ import annotations

import bisect
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
#
# Two common candidates are decided by the pattern itself, with the span the general
# branches give them (issue 5, point 8: deciding each in Python cost more than the
# scan):
#
# * ``para``: a blank line before a capital or a digit always is a boundary;
# * ``stop``: a lone full stop after two lower-case letters and before a blank ends a
#   sentence unless the word is an abbreviation (those fall through to the general
#   branch and ``_ends_sentence``).
_GENERAL = r"""
        (?<=\n)(?:(?P<gap>[ \t]*\n\s*)|(?=\s{0,39}(?P<nl>\S))?)
      | (?!(?<=\.)\d)[.!?]*["'”’)\]]*(?:\[\d+\])*"""
_LOWER_ENDED = sorted(a for a in _ABBREVIATIONS if re.fullmatch(r".*[a-z][a-z]", a))
_DECIDED = (
    r"(?<=[a-z][a-z]\.)"
    + "".join(f"(?<!{re.escape(a)}\\.)" for a in _LOWER_ENDED)
    + r"(?=\s)(?P<stop>)"
    + r"| (?<=\n)(?P<para>[ \t]*\n\s*(?=[A-Z0-9]))"
)
_SCAN = re.compile(rf"[.!?\n](?:{_DECIDED}|{_GENERAL})", re.VERBOSE)
# Without the decided branches: what ``_SCAN`` must agree with (see the tests).
_PLAIN_SCAN = re.compile(rf"[.!?\n](?:{_GENERAL})", re.VERBOSE)
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


def iter_cuts(text: str, start: int = 0, scan: re.Pattern[str] = _SCAN) -> Iterator[int]:
    """The cuts at or after ``start``, in order (a cut may repeat), found on demand.

    ``start`` must be 0 or follow a letter (see ``safe_start``). ``scan``: the tests
    pass ``_PLAIN_SCAN`` to check the branches that decide in the pattern.
    """
    n = len(text)
    for m in scan.finditer(text, start):
        decided = m.lastgroup
        if decided == "stop":
            yield m.end()
            continue
        if decided == "para":
            yield m.start()
            continue
        i, e = m.span()
        if text[i] == "\n":
            gap_end = m.end("gap")
            if gap_end != -1:
                # The gap swallowed all whitespace: what follows it is visible.
                nxt: str | None = text[gap_end] if gap_end < n else ""
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
        # Only a lone full stop (no more punctuation, no citation) may be part of an
        # abbreviation, an initial or a number: the rest always end a sentence.
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
        # At the text's start ``before`` is "", which ``in`` finds in any string.
        if not (before.islower() or before in "])"):
            return False
    elif before.isdigit() and end < len(text):
        # "... to $4.35 billion[8]. " is fine; "Q3 2025. Next" too. Only a
        # number followed by a lower-case continuation is not a boundary.
        nxt = _VISIBLE.search(text, end, end + 40)
        if nxt is not None and nxt.group().islower():
            return False
    return True


# How far before a place asked about the search for its sentence's start begins; a
# sentence that began earlier makes the search look four times as far back, and so on.
_LOOK_BACK = 200
# A place this close after the end of the last sentence found continues that scan
# rather than starting a new one.
_CONTINUE = 400


class Pieces:
    """The article's sentences, found only where something was found.

    The cuts of ``iter_cuts`` divide the text into pieces; a sentence is a
    piece trimmed (a blank piece is none), named here by where its piece starts. An
    article has some fifty sentences of which a dozen hold a number: the cuts are
    looked for only around the places asked about, the rest of the text is skipped
    (issue 5, point 8). The answers are those of a scan of the whole text.
    """

    __slots__ = ("built", "current", "known", "last_cut", "n", "stream", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.current = (0, -1)  # the piece found last: (start, end)
        self.known: list[tuple[int, int]] = []  # every piece found, in order
        self.stream: Iterator[int] | None = None  # the scan that found it, to go on with
        self.last_cut = 0  # the last cut that scan gave (the end of ``current``)
        self.built: dict[int, Sentence | None] = {}

    def piece(self, pos: int) -> tuple[int, int]:
        """(start, end) of the piece holding ``pos``: the last cut at or before it (or
        0) and the first cut after it (or the text's end)."""
        a, b = self.current
        if a <= pos < b:
            return self.current
        k = bisect.bisect_right(self.known, (pos, self.n)) - 1
        if k >= 0 and self.known[k][0] <= pos < self.known[k][1]:
            return self.known[k]  # a term or topic in a sentence with a number
        stream = self.stream
        if stream is not None and self.last_cut <= pos < self.last_cut + _CONTINUE:
            start = self.last_cut
        else:
            start, stream = self._restart(pos)
        end = self.n
        for cut in stream:
            if cut > pos:
                end = cut
                break
            start = cut
        return self._found(start, end, stream, end)

    def _restart(self, pos: int) -> tuple[int, Iterator[int]]:
        """A new scan with a cut at or before ``pos`` (or 0): (that cut, the scan after it)."""
        reach = _LOOK_BACK
        while True:
            lo = safe_start(self.text, max(0, pos - reach))
            stream = iter_cuts(self.text, lo)
            if lo == 0:
                return 0, stream
            first = next(stream, None)
            if first is not None and first <= pos:
                return first, stream
            reach *= 4  # the sentence began further back

    def _found(self, start: int, end: int, stream: Iterator[int], last_cut: int) -> tuple[int, int]:
        self.current = (start, end)
        k = bisect.bisect_left(self.known, self.current)
        if k == len(self.known) or self.known[k] != self.current:
            self.known.insert(k, self.current)
        self.stream = stream if end < self.n else None
        self.last_cut = last_cut
        return self.current

    def sentence_at(self, pos: int) -> tuple[int, int] | None:
        """The piece of the last sentence starting at or before ``pos`` (so the one
        holding it when ``pos`` is visible); None if no sentence starts so early."""
        piece = self.piece(pos)
        if pos < self.n and not self.text[pos].isspace():
            return piece  # a visible character lies in its piece's trimmed sentence
        while True:
            s = self.sentence(piece)
            if s is not None and s.start <= pos:
                return piece
            if piece[0] == 0:
                return None
            piece = self.piece(piece[0] - 1)

    def first(self) -> tuple[int, int] | None:
        """The piece of the first sentence; None if the text is blank."""
        piece = self.piece(0)
        while self.sentence(piece) is None:
            if piece[1] >= self.n:
                return None
            piece = self.piece(piece[1])
        return piece

    def sentence(self, piece: tuple[int, int]) -> Sentence | None:
        begin, end = piece
        if begin in self.built:
            return self.built[begin]
        text = self.text[begin:end]
        body = text.strip()
        s = None
        if body:
            start = begin + text.find(body[0])  # the first visible character
            s = Sentence(start, start + len(body), body)
        self.built[begin] = s
        return s
