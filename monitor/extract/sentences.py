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
from dataclasses import dataclass

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
# blank line, or a line break. Candidates are found with a one-character class (a
# fast C scan), the rest is decided in Python.
_CANDIDATE = re.compile(r"[.!?\n]")
_STOP = re.compile(r"[.!?]+[\"'”’)\]]*(?:\[\d+\])*")
_GAP = re.compile(r"\n[ \t]*\n\s*")
_VISIBLE = re.compile(r"\S")
_TERMINAL = frozenset(".!?:\"'”’)]-•")


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[Sentence]:
    """Return the sentences of ``text`` in order, trimmed, with their offsets."""
    cuts: list[int] = []
    n = len(text)
    pos = 0
    for c in _CANDIDATE.finditer(text):
        i = c.start()
        if i < pos:
            continue
        if text[i] != "\n":
            if text[i] == "." and i + 1 < n and text[i + 1].isdigit():
                continue  # a decimal point
            stop = _STOP.match(text, i)
            e = stop.end() if stop is not None else i + 1
            pos = e
            if e < n and not (text[e].isspace() or text[e].isupper() or text[e] in "“\""):
                continue
            if _ends_sentence(text, i, e):
                cuts.append(e)
            continue
        gap = _GAP.match(text, i)
        nxt = _next_visible(text, gap.end() if gap is not None else i + 1)
        if gap is not None:
            pos = gap.end()
            # A paragraph break right after a stripped link ("lags behind\n\n(20%) and
            # AWS (29%)", "Additionally,\n\npales in comparison") is not a boundary.
            prev = text[max(0, i - 40) : i].rstrip()[-1:]
            if nxt is not None and (nxt.islower() or nxt in "(,;:") and prev not in _TERMINAL:
                continue
            cuts.append(i)
            continue
        # A single line break inside a paragraph usually marks a stripped inline
        # element ("rivals like\nand Tencent"): only a capital, digit, bullet or
        # opening bracket after it starts a new sentence.
        if nxt is None or nxt.islower() or nxt in ",;:":
            continue
        cuts.append(i)
    out: list[Sentence] = []
    begin = 0
    for cut in [*cuts, n]:
        _append(out, text, begin, cut)
        begin = cut
    return out


def _ends_sentence(text: str, start: int, end: int) -> bool:
    punct = text[start:end]
    if punct.startswith(".") and len(punct.rstrip("\"'”’)]")) == 1:
        tail = text[max(0, start - 12) : start].split()
        token = tail[-1].lstrip("(\"'“‘") if tail else ""
        if token and token[0].isalpha() and (
            token in _ABBREVIATIONS or (len(token) == 1 and token.isupper())
        ):
            return False
        if end < len(text) and not text[end].isspace():
            # Glued: "returns.Alibaba" is a lost space, but "U.S" and "3.5" are not;
            # require a lower-case letter or closing bracket before the dot.
            prev_char = text[start - 1] if start > 0 else ""
            if not (prev_char.islower() or prev_char in "])"):
                return False
        elif start > 0 and text[start - 1].isdigit() and end < len(text):
            # "... to $4.35 billion[8]. " is fine; "Q3 2025. Next" too. Only a
            # number followed by a lower-case continuation is not a boundary.
            nxt = _next_visible(text, end)
            if nxt is not None and nxt.islower():
                return False
    return True


def _next_visible(text: str, pos: int) -> str | None:
    m = _VISIBLE.search(text, pos, pos + 40)
    return m.group() if m is not None else None


def _append(out: list[Sentence], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    body = piece.strip()
    if body:
        start += len(piece) - len(piece.lstrip())
        out.append(Sentence(start, start + len(body), body))
