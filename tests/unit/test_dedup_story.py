"""Same-story level, pure functions (issue 4, point 3)."""

from __future__ import annotations

import json

from monitor.dedup import match_story, profile, story_profile
from monitor.dedup.story import ArticleProfile, compare, content_words
from monitor.values import Extraction, Fact, TermHit


def fact(
    surface: str,
    value: float,
    unit: str = "money",
    currency: str | None = "USD",
    *,
    quote: str = "",
    span: tuple[int, int] = (0, 0),
    alt: tuple[str, float] | None = None,
    entity: str | None = "alibaba",
) -> Fact:
    return Fact(
        entity=entity,
        metric=None,
        value=value,
        unit=unit,
        surface=surface,
        quote=quote or surface,
        span=span,
        confidence=0.9,
        currency=currency,
        alt_currency=alt[0] if alt else None,
        alt_value=alt[1] if alt else None,
    )


def pct(v: float) -> Fact:
    return fact(f"{v}%", v, "percent", None)


def article(
    facts: list[Fact],
    *,
    entity: str | None = "alibaba",
    title: str = "",
    text: str = "",
    terms: tuple[str, ...] = (),
) -> ArticleProfile:
    return profile(
        title,
        text,
        Extraction(
            main_entity=entity,
            facts=tuple(facts),
            terms=tuple(TermHit("qwen", t, t, (0, 0)) for t in terms),
        ),
    )


CAPEX = [
    fact("$53 billion", 53e9, alt=("CNY", 380e9)),
    fact("RMB 380 billion", 380e9, "money", "CNY", alt=("USD", 53e9)),
    pct(4),
    pct(36),
    fact("$19.1 billion", 19.1e9),
    fact("RMB 130.11 billion", 130.11e9, "money", "CNY"),
    pct(62.62),
]


def test_two_currency_amount_is_one_figure_linked_or_not() -> None:
    linked = article(CAPEX[:2])
    assert len(linked.figures) == 1
    sentence = "plan to RMB 480 billion, about $66 billion, over three years"
    unlinked = article(
        [
            fact("RMB 480 billion", 480e9, "money", "CNY", quote=sentence, span=(8, 23)),
            fact("$66 billion", 66e9, quote=sentence, span=(31, 42)),
        ]
    )
    assert len(unlinked.figures) == 1
    # the same currency twice is two figures: "from RMB 380 billion to RMB 480 billion"
    moved = article(
        [
            fact("RMB 380 billion", 380e9, "money", "CNY", quote=sentence, span=(5, 20)),
            fact("RMB 480 billion", 480e9, "money", "CNY", quote=sentence, span=(24, 39)),
        ]
    )
    assert len(moved.figures) == 2


def test_rewrite_with_drifted_figures_joins_on_facts() -> None:
    story = story_profile(1, "alibaba", [article(CAPEX)])
    rewrite = article(
        [
            fact("$52 billion", 52e9),  # the conflicting figure of the demo corpus
            pct(35.8),
            pct(4),
            fact("$19.1 billion", 19.1e9),
            pct(-62.62),  # "net income rose" vs "a 62.62% rise": the magnitude counts
        ]
    )
    m = match_story(rewrite, [story])
    assert m is not None and m.story_id == 1 and m.basis == "facts"
    assert ("$52 billion", "$53 billion") in m.shared_facts
    assert m.coverage == 1.0
    json.dumps(m.reason())


def test_figures_far_apart_do_not_match() -> None:
    story = story_profile(1, "alibaba", [article(CAPEX)])
    other = article([fact("$60 billion", 60e9), pct(40), pct(10), fact("$5 billion", 5e9)])
    assert match_story(other, [story]) is None


def test_another_company_stays_apart_unless_the_facts_are_overwhelming() -> None:
    story = story_profile(1, "alibaba", [article(CAPEX)])
    tencent = article(CAPEX[:4], entity="tencent")
    assert compare(tencent, story) is None
    more = [*CAPEX, pct(30), pct(20), pct(13), pct(76), fact("$16.5 billion", 16.5e9)]
    m = compare(article(more, entity="tencent"), story_profile(1, "alibaba", [article(more)]))
    assert m is not None and m.basis == "conflict-facts"


def test_another_event_repeating_the_headline_figure_stays_apart() -> None:
    """C1 raised the plan to RMB 480 billion; C2 opened regions "under" that plan."""
    raise_ = article(
        [
            fact("RMB 480 billion", 480e9, "money", "CNY", alt=("USD", 66e9)),
            fact("RMB 380 billion", 380e9, "money", "CNY", alt=("USD", 53e9)),
            fact("RMB 100 billion", 100e9, "money", "CNY"),
            pct(26),
        ],
        title="Alibaba Lifts Its AI War Chest to RMB 480 Billion as Cloud Demand Outruns Supply",
        terms=("Qwen3-Max",),
    )
    regions = article(
        [
            fact("$66 billion", 66e9, alt=("CNY", 480e9)),
            fact("RMB 380 billion", 380e9, "money", "CNY"),
            fact("29 regions", 29, "count", None),
        ],
        title=(
            "Alibaba Cloud Opens New Overseas Regions as Its Enlarged RMB 480 Billion Plan Kicks In"
        ),
        terms=("Qwen3-Max",),
    )
    assert compare(regions, story_profile(1, "alibaba", [raise_])) is None


def test_model_names_join_with_some_figures_but_one_name_is_not_enough() -> None:
    launch = article(
        [fact("1 trillion", 1e12, "count", None), fact("80 billion", 80e9, "count", None)],
        terms=("Qwen3-Max", "Qwen3-Max-Preview", "Qwen3-Next-80B-A3B"),
    )
    story = story_profile(7, "alibaba", [launch])
    retold = article(
        [fact("one trillion", 1e12, "count", None), fact("80 billion", 80e9, "count", None)],
        terms=("Qwen3-Max", "Qwen3-Max-Preview"),
    )
    m = compare(retold, story)
    assert m is not None and m.basis == "facts+terms"
    assert m.shared_terms == ("qwen3-max", "qwen3-max-preview")
    other_model = article([fact("119", 119, "count", None)], terms=("Qwen3-Omni", "Qwen3-Max"))
    assert compare(other_model, story) is None


def test_very_similar_title_joins_without_figures() -> None:
    title = "Entity List Jitters: Why Washington's Next Move Matters More Than Alibaba's Next Model"
    story = story_profile(3, "alibaba", [article([], title=title)])
    same = article([], title="Entity list jitters - why Washington's next move matters more")
    m = compare(same, story)
    assert m is not None and m.basis == "title"
    # generic words shared by every AI-written headline do not make titles alike
    assert compare(article([], title="Alibaba's Next Move: What It Means"), story) is None


def test_title_words_drop_numbers_and_function_words() -> None:
    words = content_words("Alibaba's $53 Billion AI Gambit: Can the Cloud Underdog Rewrite It?")
    assert words == {"alibaba", "ai", "gambit", "cloud", "underdog", "rewrite"}


def test_strongest_kind_of_evidence_wins() -> None:
    a = story_profile(1, "alibaba", [article(CAPEX)])
    title = "Alibaba's Cloud Build-Out: What It Means for Investors"
    b = story_profile(2, "alibaba", [article(CAPEX[:3], title=title)])
    probe = article(CAPEX[2:], title=title)
    m = match_story(probe, [b, a])
    assert m is not None and m.story_id == 1 and m.basis == "facts"


def test_without_entities_more_evidence_is_needed() -> None:
    figures = [fact("$4,200", 4200), pct(3.75), pct(60), fact("$60", 60)]
    story = story_profile(5, None, [article(figures, entity=None)])
    assert compare(article(figures[:3], entity=None), story) is not None  # three shared, all
    assert compare(article([*figures[:2], pct(9), pct(11)], entity=None), story) is None


def test_content_words_drop_words_with_any_digit_ascii_or_not() -> None:
    # ASCII words take a set test, others the per-character check; both drop digits
    assert content_words("Qwen3 model beats gpt4o on 2025 tasks") == {"model", "beats", "tasks"}
    # Arabic-Indic and Devanagari digits are digits too; letters outside ASCII stay
    assert content_words("Übernahme ٣سهم मूल्य१ Zürich") == {"übernahme", "zürich"}
