"""Strings made safe for every database (RELIABILITY S8): no NUL, no lone surrogate."""

from __future__ import annotations

import pytest

from monitor.store.clean_text import safe, safe_opt


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Alibaba plans $53 billion", "Alibaba plans $53 billion"),
        ("Ali\x00baba\x00", "Alibaba"),
        ("RMB 380 billion \u2014 \u201cAI\u201d", "RMB 380 billion \u2014 \u201cAI\u201d"),
        ("caf\u00e9\x00 \ud800plan\udfff", "caf\u00e9 plan"),
        ("", ""),
    ],
)
def test_nul_and_lone_surrogates_go_and_everything_else_stays(raw: str, clean: str) -> None:
    assert safe(raw) == clean
    assert safe_opt(raw) == clean


def test_a_clean_string_is_returned_as_it_is() -> None:
    text = "Tencent holds 16% of the market"
    assert safe(text) is text
    assert safe_opt(None) is None
