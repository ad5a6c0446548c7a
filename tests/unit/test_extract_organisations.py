"""Companies outside the vocabulary keep their own figures (issue 13, point 4).

The names below are deliberately absent from the shipped vocabulary; the sentences
are written for these tests.
"""

from __future__ import annotations

import pytest

from monitor.extract import extract
from tests.unit.extract_gold import load_vocabulary

VOCAB = load_vocabulary()


def test_fixture_names_are_outside_the_vocabulary() -> None:
    names = {n for e in VOCAB.entities for n in e.names}
    for name in ("Moore Threads", "Hygon", "Enflame", "Biren", "Manus", "Unitree"):
        assert name not in names


@pytest.mark.parametrize(
    ("text", "surface", "entity"),
    [
        # a legal suffix, then a later bare mention of the core name
        (
            "Moore Threads Technology Co. filed for a listing. Moore Threads said revenue "
            "rose 180% last year.",
            "180%",
            "moore_threads",
        ),
        # a business suffix that is part of the name
        (
            "Unitree Robotics raised $100 million in its latest round.",
            "$100 million",
            "unitree_robotics",
        ),
        # a ticker with its listing code
        ("Enflame (688123.SH) said its revenue rose 30% in the quarter.", "30%", "enflame"),
        # a possessive before a company's things
        ("Hygon's revenue climbed 45% in the quarter.", "45%", "hygon"),
        # a word that introduces a company
        ("Investors also bid up startup Manus, valued at $500 million.", "$500 million", "manus"),
        # a comparison bracket after an unknown name
        ("Alibaba's cloud grew 26%, trailing rival Biren (45%).", "45%", "biren"),
        # a name that speaks of "its" things; a name after a place's "-based"
        ("Kestrelnet reported its cloud revenue rose 18% last year.", "18%", "kestrelnet"),
        (
            "Stuttgart-based Vireo will invest €400 million in a compute centre.",
            "€400 million",
            "vireo",
        ),
        # a possessive before a longer word for a company's thing
        ("Corvana's infrastructure revenue declined 6% in the year.", "6%", "corvana"),
    ],
)
def test_a_figure_beside_an_unknown_company_is_that_companys(
    text: str, surface: str, entity: str
) -> None:
    result = extract(text, "Alibaba and its peers", VOCAB)
    got = {f.surface: f.entity for f in result.facts}
    assert got[surface] == entity
    assert entity in dict(result.organisations)
    assert entity in result.entities


def test_the_main_company_keeps_its_own_figures_beside_an_unknown_one() -> None:
    text = "Alibaba shares rose 4% on Monday, while Hygon's shares fell 6%."
    got = {f.surface: f.entity for f in extract(text, "Alibaba rallies", VOCAB).facts}
    assert got == {"4%": "alibaba", "6%": "hygon"}


def test_the_name_as_written_is_kept_with_its_slug() -> None:
    result = extract("Moore Threads Technology Co. grew 50%.", "", VOCAB)
    assert result.organisations == (("moore_threads", "Moore Threads Technology Co."),)


@pytest.mark.parametrize(
    "text",
    [
        "The Commerce Department tightened the rule (VEU) for US-made AI chips.",
        "China's revenue from exports grew 5% on Tuesday.",
        "Generative AI spending rose 20% in the quarter.",
        "In Q3 the Group's revenue rose 5%.",
        "Zhang Wei said his team grew 5% a year.",
        "Beijing-based analysts expect growth of 5%.",
    ],
)
def test_places_acronyms_and_sentence_openers_are_not_companies(text: str) -> None:
    assert extract(text, "", VOCAB).organisations == ()


def test_an_executive_who_speaks_of_its_figures_is_no_company() -> None:
    text = (
        "Alibaba reported strong results. Chief executive Eddie Wu said its cloud revenue "
        "would grow 30% next year, and Wu said its margins would widen by 2 points."
    )
    result = extract(text, "Alibaba's quarter", VOCAB)
    assert result.organisations == ()
    assert {f.surface: f.entity for f in result.facts}["30%"] == "alibaba"


def test_a_rival_that_opens_its_sentence_is_its_subject() -> None:
    """ "Rival X has said it expects $23 billion": X is the sentence's subject, not the far
    side of a comparison; its figure went to the article's main company."""
    text = (
        "Alibaba said it plans to invest $3.2 billion in 2026. Rival Tencent has said it "
        "expects capital expenditure of $23 billion this year, ahead of rival Baidu."
    )
    got = {f.surface: f.entity for f in extract(text, "Alibaba sets a budget", VOCAB).facts}
    assert got == {"$3.2 billion": "alibaba", "$23 billion": "tencent"}
