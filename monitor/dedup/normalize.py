"""Text normalisation shared by the exact and near-duplicate levels.

Two copies of one article differ in case, whitespace, quote style, dashes, bullets and
other punctuation long after the fetcher removed the page chrome; all of that is folded
away here so that such copies hash alike (issue 4, point 1).

The work is done on UTF-8 bytes because it is the hot path of every ingest: on this
machine ``str`` regexes over ``\\w`` cost ~60 ns per character, while a bytes translate
table plus one bytes regex for the multi-byte punctuation blocks is several times faster.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Every ASCII byte that is not a letter or digit (punctuation, symbols, controls, "_")
# becomes a space.
_ASCII_FOLD = bytes.maketrans(
    bytes(c for c in range(128) if not chr(c).isalnum()),
    b" " * sum(1 for c in range(128) if not chr(c).isalnum()),
)

# Multi-byte punctuation and symbols that NFKC leaves alone, as UTF-8 byte patterns:
#   U+0080-00BF  (C2 xx)   nbsp, currency, guillemets, section sign, degree, middle dot
#   U+00D7/00F7            multiplication and division signs
#   U+2000-2BFF  (E2 80-AF) general punctuation (curly quotes, dashes, ellipsis, bullets),
#                           currency, arrows, maths, box drawing, shapes, dingbats
#   U+2E00-2E7F  (E2 B8-B9) supplemental punctuation
#   U+3000-303F  (E3 80)    CJK punctuation (ideographic space, brackets, full stop)
#   U+1F000-1FFFF (F0 9F)   emoji and pictographs, common in newsletter chrome
_UNICODE_FOLD = re.compile(
    rb"\xc2[\x80-\xbf]|\xc3[\x97\xb7]|\xe2[\x80-\xaf][\x80-\xbf]|\xe2[\xb8\xb9][\x80-\xbf]"
    rb"|\xe3\x80[\x80-\xbf]|\xf0\x9f[\x80-\xbf][\x80-\xbf]"
)


def words(text: str) -> list[bytes]:
    """The normalised words of ``text``, as UTF-8 bytes.

    NFKC first (full-width forms, ligatures and superscripts become plain characters),
    then lower case, then every punctuation or symbol character becomes a separator.
    """
    data = unicodedata.normalize("NFKC", text).encode("utf-8", "replace")
    if not data.isascii():
        data = _UNICODE_FOLD.sub(b" ", data)
    # Most English articles are ASCII once their curly quotes and dashes are gone, and
    # bytes.lower() is several times faster than str.lower() on a non-ASCII string.
    data = data.lower() if data.isascii() else data.decode("utf-8", "replace").lower().encode()
    return data.translate(_ASCII_FOLD).split()


def normalise(text: str) -> str:
    """Case, whitespace and punctuation folded: "Alibaba’s  AI—push!" -> "alibaba s ai push"."""
    return b" ".join(words(text)).decode("utf-8", "replace")


def content_hash(text: str) -> str:
    """Hex digest of the normalised text: equal for copies that differ only in folding.

    BLAKE2b (128-bit) rather than a fast non-cryptographic hash: an exact match makes an
    article a duplicate without any further check, so collisions must be out of reach even
    for crafted input.
    """
    return hashlib.blake2b(b" ".join(words(text)), digest_size=16).hexdigest()
