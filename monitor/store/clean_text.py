"""Strings made safe for every database: no NUL, no lone surrogates (RELIABILITY S8)."""

from __future__ import annotations

import re

_BAD = re.compile("[\x00\ud800-\udfff]")


def safe(text: str) -> str:
    return _BAD.sub("", text)


def safe_opt(text: str | None) -> str | None:
    return None if text is None else safe(text)
