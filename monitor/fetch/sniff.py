"""Whether bytes meant as a page or a text file are text at all, before they are decoded.

A PDF, an archive or an image served as text/html (or named .txt, .html) decodes to
something in windows-1252, and behind a UTF-16 byte-order mark (FF FE, FE FF) to
characters of every script: either way it was stored as an article, and its "words"
fed the dedup index and the fact extractor. Real text of any language has next to no
control, private-use or unassigned characters; binary data read as text has many.
"""

from __future__ import annotations

import codecs
import unicodedata

# the start of a body that is looked at: enough for any binary format to show itself
SAMPLE_BYTES = 65536
# More than this share of control bytes, or of characters no text has: not text.
NOT_TEXT_SHARE = 0.05
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\x0b\x0c\r")
# formats whose first bytes say what they are (a page starting so is never HTML)
_SIGNATURES = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b\x08", "gzip data"),
)
# UTF-32 first: its little-endian mark begins with UTF-16's
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
# characters no text is made of: controls other than white space, private use,
# unassigned code points, lone surrogates
_NOT_TEXT_CATEGORIES = frozenset({"Cc", "Co", "Cn", "Cs"})


def binary_kind(body: bytes) -> str | None:
    """What shows that ``body`` is no text (a few words, e.g. "a PDF document"), or None.

    Behind a UTF-16/32 byte-order mark, the body is decoded and judged by its characters;
    otherwise by its share of control bytes, unless those are the NULs of UTF-16 text
    written without a mark (whose decoding is left to the caller, as before)."""
    sample = body[:SAMPLE_BYTES]
    for bom, codec, name in _BOMS:
        if sample.startswith(bom):
            if _reads_as_text(sample[len(bom) :], codec):
                return None
            return f"a {name} byte-order mark before bytes that are no {name} text"
    for signature, kind in _SIGNATURES:
        if sample.startswith(signature):
            return kind
    if not sample:
        return None
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls / len(sample) <= NOT_TEXT_SHARE:
        return None
    # UTF-16 text without a mark: its NULs are the high bytes of one of each pair
    codec = "utf-16-be" if sample[0::2].count(0) > sample[1::2].count(0) else "utf-16-le"
    if _reads_as_text(sample, codec):
        return None
    return f"{controls / len(sample):.0%} control bytes"


def _reads_as_text(data: bytes, codec: str) -> bool:
    unit = 4 if codec.startswith("utf-32") else 2
    text = data[: len(data) - len(data) % unit].decode(codec, errors="replace")
    if not text:
        return True
    junk = sum(
        1
        for c in text
        if c == "\ufffd"
        or (unicodedata.category(c) in _NOT_TEXT_CATEGORIES and c not in "\t\n\x0b\x0c\r")
    )
    return junk / len(text) <= NOT_TEXT_SHARE
