"""Same-story level, pure functions (issue 4, point 3; issue 13, points 1 to 3).

Each test builds article and story profiles from extractions written here, weighs their
words against a small made-up corpus of frequencies, and checks one part of the decision
rule of ``monitor.dedup.story`` and ``monitor.dedup.restatement``.
"""

from __future__ import annotations

import pytest

from monitor.dedup import restatement, story, story_members, text_vector
from monitor.dedup.figures import Figure, fact_weight
from monitor.dedup.story import (
    TEXT_FLOOR,
    TEXT_WITH,
    ArticleProfile,
    StoryProfile,
    company_of,
    compare,
    matching_stories,
    profile,
    stories_agree,
    weighed,
)
from monitor.values import Extraction, Fact, TermHit

# A corpus of 2,000 articles in which the boilerplate of market commentary is everywhere
# and the words of one event are rare.
DOCS = 2000
BOILER = "Investors will watch the stock as analysts weigh the market this week."
COMMON = {w: 900 for w in text_vector.words(BOILER)}


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
    metric: str | None = None,
    period: str | None = None,
) -> Fact:
    return Fact(
        entity=entity,
        metric=metric,
        value=value,
        unit=unit,
        surface=surface,
        quote=quote or surface,
        span=span,
        confidence=0.9,
        currency=currency,
        period=period,
        alt_currency=alt[0] if alt else None,
        alt_value=alt[1] if alt else None,
    )


def pct(v: float, **kw: object) -> Fact:
    return fact(f"{v}%", v, "percent", None, **kw)  # type: ignore[arg-type]


def article(
    facts: list[Fact],
    *,
    company: str | None = "alibaba",
    title: str = "",
    text: str = "",
    terms: tuple[str, ...] = (),
    df: dict[str, int] | None = None,
) -> ArticleProfile:
    extraction = Extraction(
        main_entity=company,
        facts=tuple(facts),
        terms=tuple(TermHit("models", t, t, (0, 0)) for t in terms),
        entities=(company,) if company else (),
        title_entities=(company,) if company else (),
    )
    return weighed(profile(title, text, extraction), df if df is not None else COMMON, DOCS)


def story_of(*members: ArticleProfile, story_id: int = 1) -> StoryProfile:
    st = StoryProfile(story_id, members[0].company, 0)
    for m in members:
        st = story_members.joined(st, m)
    return st


PLAN = [
    fact("$53 billion", 53e9, alt=("CNY", 380e9), metric="ai_capex_plan", period="next 3 years"),
    pct(4.0),
    pct(36.0),
    fact("$19.1 billion", 19.1e9),
    fact("RMB 130.11 billion", 130.11e9, "money", "CNY"),
    pct(62.62),
]
PLAN_TEXT = (
    "Alibaba will spend heavily on data centers for artificial intelligence over three"
    " years, chief executive Eddie Wu said, as the Hangzhou group races rivals."
)


def test_two_currency_amount_is_one_figure_linked_or_not() -> None:
    yuan = fact("RMB 380 billion", 380e9, "money", "CNY", alt=("USD", 53e9))
    linked = article([PLAN[0], yuan])
    assert len(linked.figures) == 1
    sentence = "plan to RMB 480 billion, about $66 billion, over three years"
    unlinked = article(
        [
            fact("RMB 480 billion", 480e9, "money", "CNY", quote=sentence, span=(8, 23)),
            fact("$66 billion", 66e9, quote=sentence, span=(31, 42)),
        ]
    )
    assert len(unlinked.figures) == 1
    moved = article(
        [
            fact("RMB 380 billion", 380e9, "money", "CNY", quote=sentence, span=(5, 20)),
            fact("RMB 480 billion", 480e9, "money", "CNY", quote=sentence, span=(24, 39)),
        ]
    )
    assert len(moved.figures) == 2


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (8.0, 8.39, True),  # a headline's "8%" for the body's "8.39%"
        (16.9, 16.86, True),
        (17.0, 16.86, True),
        (36.0, 35.8, True),  # within the absolute tolerance anyway
        (8.0, 8.61, False),  # rounds to 9
        (8.4, 8.0, True),  # "8%" may be "8.4%" rounded
        (8.6, 8.0, False),  # ... but not "8.6%": that is "9%"
        (8.1, 8.5, False),  # same precision, 0.4 points apart
    ],
)
def test_a_rounded_percentage_is_the_figure_it_rounds(a: float, b: float, same: bool) -> None:
    def pct(v: float) -> Figure:
        return Figure("percent", None, v, f"{v:g}%", 1.0)

    assert pct(a).matches(pct(b)) is same
    assert pct(b).matches(pct(a)) is same


def test_a_rewrite_in_other_words_with_drifted_figures_joins() -> None:
    st = story_of(article(PLAN, title="Alibaba's $53 Billion AI Gambit", text=PLAN_TEXT))
    rewrite = article(
        [
            fact("$52 billion", 52e9, metric="ai_capex_plan"),
            pct(35.8),
            fact("$19.1 billion", 19.1e9),
        ],
        title="Inside Alibaba's Three-Year Data Center Push",
        text="Eddie Wu wants Alibaba to win artificial intelligence with data centers.",
    )
    m = compare(rewrite, st)
    assert m is not None and m.basis in ("text", "text+facts")
    assert ("$52 billion", "$53 billion") in m.shared_facts
    assert "eddie" in m.shared_words or "wu" in m.shared_words
    assert m.reason()["level"] == "story"


def test_another_company_never_joins_whatever_it_shares() -> None:
    st = story_of(article(PLAN, title="Alibaba's $53 Billion AI Gambit", text=PLAN_TEXT))
    same_words = article(PLAN, company="tencent", title="Alibaba's $53 Billion AI Gambit",
                         text=PLAN_TEXT)  # fmt: skip
    assert compare(same_words, st) is None
    assert company_of(Extraction("deepseek", title_entities=("alibaba", "deepseek"))) == "alibaba"
    assert company_of(Extraction("nvidia")) == "nvidia"


def test_weak_evidence_alone_joins_nothing() -> None:
    # whole percentages, round numbers, a day of the month and a year weigh (almost) nothing
    assert fact_weight(pct(10.0)) < 0.2 and fact_weight(pct(13.0)) < 0.5
    assert fact_weight(fact("$100 billion", 100e9)) < 0.5
    dated = fact("6", 6.0, "count", None, quote="Shares rose on March 6 in Hong Kong.")
    assert fact_weight(dated) == 0.0
    assert fact_weight(fact("2025", 2025.0, "count", None)) == 0.0
    weak = [pct(10.0), pct(5.0), fact("$1 billion", 1e9), fact("100 million", 1e8, "count", None)]
    a = article(weak, title="Investors Watch the Market", text=BOILER)
    b = article(weak, title="Analysts Watch the Stock", text=BOILER)
    assert compare(b, story_of(a)) is None


def test_figures_are_weighed_only_where_the_words_meet_the_floor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Most of a company's candidate stories share no words with an article: they are
    rejected on the words before their figures are weighed. The same figures with a few
    words in common still join on facts."""
    st = story_of(article(PLAN, title="Alibaba Plans Data Center Spending", text=PLAN_TEXT))
    filing = "The filing lists results for shareholders in tables and notes"
    near = article(PLAN, title="Filing Shows Figures", text=f"{filing} as rivals race.")
    match = compare(near, st)
    assert match is not None and match.basis == "facts"
    assert TEXT_FLOOR <= match.text_similarity < TEXT_WITH
    apart = article(PLAN, title="Quarterly Filing Shows Figures", text=f"{filing}.")
    assert text_vector.similarity(apart.vector, st.centroid) < TEXT_FLOOR

    def weighed_figures(*_: object) -> None:
        raise AssertionError("figures weighed for a story below the text floor")

    monkeypatch.setattr(story, "shared_figures", weighed_figures)
    assert compare(apart, st) is None


def test_boilerplate_words_weigh_little_once_the_corpus_knows_them() -> None:
    boiler = f"{BOILER} " * 3
    a = article([], title="Alibaba opens a plant in Chile", text=boiler)
    b = article([], title="Alibaba wins a bank contract in Kenya", text=boiler)
    assert text_vector.cosine(a.vector, b.vector) < 0.2
    cold = article([], title="Alibaba opens a plant in Chile", text=boiler, df={})
    colder = article([], title="Alibaba wins a bank contract in Kenya", text=boiler, df={})
    assert text_vector.cosine(cold.vector, colder.vector) > text_vector.cosine(a.vector, b.vector)


def test_a_figure_one_member_of_many_mentioned_cannot_pull_an_article_in() -> None:
    """Evidence against the story as a whole: no chaining from member to member."""
    members = [article(PLAN, title="Alibaba's $53 Billion AI Gambit", text=PLAN_TEXT)]
    members += [article(PLAN[:1], title="Alibaba's $53 Billion Plan", text=PLAN_TEXT)] * 4
    side = fact("RMB 20.8 billion", 20.8e9, "money", "CNY")
    members.append(article([*PLAN[:1], side], title="Alibaba's Plan", text=PLAN_TEXT))
    st = story_of(*members)
    stray = article([side, pct(7.7)], title="Alibaba Games Unit Revenue", text="Games sold well.")
    assert compare(stray, st) is None
    alone = story_of(members[-1])  # as the only member, the same figure counts fully
    m = compare(stray, alone)
    assert m is None or m.fact_evidence > 0.9


def test_a_different_headline_amount_is_another_event_however_alike_the_words() -> None:
    q3 = [fact("$12.4 billion", 12.4e9, span=(10, 20)), pct(8.1)]
    q4 = [fact("$13.9 billion", 13.9e9, span=(10, 20)), pct(9.3)]
    words = "Alibaba reported quarterly revenue growth driven by its cloud division and AI."
    st = story_of(article(q3, title="Alibaba Quarterly Revenue Rises", text=words))
    assert compare(article(q4, title="Alibaba Quarterly Revenue Rises", text=words), st) is None
    assert compare(article(q3, title="Alibaba Quarterly Revenue Rises", text=words), st)


def test_a_round_headline_sum_that_is_not_the_storys_is_another_event() -> None:
    words = "Northwind signed an agreement in Finland, its largest in the region so far."
    plan = fact("$17.4 billion", 17.4e9, span=(10, 20))
    st = story_of(article([plan], title="Northwind Signs Deal in Finland", text=words))
    deal = article([fact("$3.0bn", 3e9, span=(10, 16))], title="Northwind Signs Deal in Finland",
                   text=words)  # fmt: skip
    assert compare(deal, st) is None
    # "$20 billion" is the story's sum as a headline rounds it; a share price is no sum
    rounded = article([fact("$20 billion", 20e9, span=(10, 20))],
                      title="Northwind Signs Deal in Finland", text=words)  # fmt: skip
    assert compare(rounded, st) is not None
    priced = article([fact("$148.68", 148.68, span=(10, 17))],
                     title="Northwind Signs Deal in Finland", text=words)  # fmt: skip
    assert compare(priced, st) is not None


def test_another_release_named_in_the_title_is_another_story() -> None:
    words = "Alibaba released a new model to developers, with strong benchmark scores."
    st = story_of(article([], title="Alibaba Launches Qwen3-Max", text=words, terms=("Qwen3-Max",)))
    omni = article([], title="Alibaba Launches Qwen3-Omni", text=words, terms=("Qwen3-Omni",))
    assert compare(omni, st) is None
    again = article([], title="Alibaba Releases Qwen3-Max", text=words, terms=("Qwen3-Max",))
    assert compare(again, st) is not None


def test_a_release_the_vocabulary_does_not_know_is_told_by_its_name() -> None:
    """A versioned name in the title that the lede writes as a name ("Helix 3") marks a
    release, whether or not the vocabulary knows it; figures alike by chance (a market
    value, a benchmark score) do not join another one."""
    shared = [fact("$835 billion", 835e9), fact("84.9", 84.9, "points", None), pct(4.3)]
    first = article(
        shared,
        company="netease",
        title="NetEase Launches NetEase Helix 3",
        text="NetEase released Helix 3, a model for developers, with strong benchmark scores.",
    )
    assert first.lead_terms == {"helix 3"}
    st = story_of(first)
    other = article(
        [fact("$828 billion", 828e9), fact("84.0", 84.0, "points", None), pct(4.3)],
        company="netease",
        title="NetEase Launches NetEase Cygnus 4",
        text="NetEase released Cygnus 4, a model for developers, with strong benchmark scores.",
    )
    assert compare(other, st) is None
    again = article(
        shared,
        company="netease",
        title="Helix 3: NetEase's Newest Model Arrives",
        text="Developers can now use Helix 3, the model NetEase released with strong scores.",
    )
    assert compare(again, st) is not None


def test_a_rivals_model_in_the_title_is_no_release_of_the_company() -> None:
    words = "Tencent released the Hunyuan-T1 reasoning model to developers on Friday."
    st = story_of(
        article([], company="tencent", title="Tencent Launches Hunyuan-T1", text=words,
                terms=("Hunyuan-T1",))
    )  # fmt: skip
    rival = article(
        [], company="tencent", title="Tencent's model matches OpenAI's o1", text=words,
        terms=("o1", "Hunyuan-T1"),
    )  # fmt: skip
    assert rival.lead_terms == frozenset()
    assert compare(rival, st) is not None
    own = article([], company="tencent", title="Tencent's Hunyuan-T2 is out", text=words,
                  terms=("Hunyuan-T2",))  # fmt: skip
    assert own.lead_terms == {"hunyuan-t2"}
    quoted = article([], company="tencent", title="Tencent (Hunyuan-T2) vs OpenAI's",
                     text=words, terms=("Hunyuan-T2",))  # fmt: skip
    assert quoted.lead_terms == {"hunyuan-t2"}


def test_title_case_words_before_a_number_are_no_release() -> None:
    # every word of a headline is capitalised; the lede says "opens 3 data centers"
    a = article(
        [], title="Alibaba Opens 3 Data Centers", text="Alibaba opens 3 data centers abroad."
    )
    assert a.lead_terms == frozenset()


def test_two_spellings_of_one_release_are_one_release() -> None:
    words = "Alibaba released a new model to developers, with strong benchmark scores."
    st = story_of(
        article([], title="Alibaba Launches Qwen2.5-Max", text=words, terms=("Qwen2.5-Max",))
    )
    spaced = article(
        [], title="Alibaba Unveils Qwen 2.5-Max", text=f"The Qwen 2.5 model is out. {words}"
    )
    assert spaced.lead_terms == {"qwen 2.5"}
    assert compare(spaced, st) is not None


def test_time_raises_the_bar() -> None:
    title = "Alibaba opens data centers in Brazil and France"
    st = story_of(article([], title=title, text="New overseas regions in Brazil and France."))
    near = article(
        [], title="Alibaba regions in Brazil", text="Overseas data centers in France and Brazil."
    )
    m = compare(near, st, 0.5)
    assert m is not None
    later = compare(near, st, 6.5)
    # the same words, six days later, must clear a bar 36% higher
    assert (later is None) == (m.text_similarity < 0.22 * (1 + 0.08 * 4.5))


def test_the_best_story_wins() -> None:
    plan = story_of(article(PLAN, title="Alibaba's $53 Billion AI Gambit", text=PLAN_TEXT))
    other = story_of(article([], title="Alibaba Launches Qwen3-Max", text="A new model."),
                     story_id=2)  # fmt: skip
    rewrite = article(PLAN, title="Alibaba Bets $53 Billion on AI", text=PLAN_TEXT)
    found = matching_stories(rewrite, [(other, 0.0), (plan, 0.0)])
    assert [m.story_id for m in found][:1] == [1]


def test_stories_agree_on_a_shared_headline_figure_of_one_metric() -> None:
    lead = fact("$75 billion", 75e9, span=(0, 5), metric="ai_capex_plan", period="2025")
    a = story_of(article([lead], title="Alphabet to invest $75 billion", text="Capital spending."))
    b = story_of(article([lead], title="Google spending rises", text="Earnings day."), story_id=2)
    assert stories_agree(a, b)
    other = fact("$75 billion", 75e9, span=(0, 5), metric="buyback_remaining")
    c = story_of(article([other], title="Buyback", text="Repurchases."), story_id=3)
    assert not stories_agree(a, c)


# ------------------------------------------------------------------------ restatements


def test_a_restatement_repeats_a_standing_headline_figure_and_nothing_new() -> None:
    plan = fact("$53 billion", 53e9, span=(5, 15), alt=("CNY", 380e9), metric="ai_capex_plan",
                period="next 3 years")  # fmt: skip
    st = story_of(article([plan], title="Alibaba Commits $53 Billion to AI", text=PLAN_TEXT))
    later = article(
        [fact("RMB 380 billion", 380e9, "money", "CNY", span=(5, 20), metric="ai_capex_plan")],
        title="Can Alibaba's RMB 380 Billion AI Bet Pay Off?",
        text="Alibaba's RMB 380 billion plan for data centers still frames the stock.",
    )
    m = restatement.restates(later, st, 60.0)
    assert m is not None and m.reason()["level"] == "restatement"
    raised = article(
        [fact("RMB 480 billion", 480e9, "money", "CNY", span=(5, 20), metric="ai_capex_plan"),
         fact("RMB 380 billion", 380e9, "money", "CNY", span=(30, 45), metric="ai_capex_plan")],
        title="Alibaba Lifts Its AI Budget to RMB 480 Billion",
        text="Alibaba raised its AI budget from RMB 380 billion to RMB 480 billion.",
    )  # fmt: skip
    assert restatement.restates(raised, st, 60.0) is None  # a new figure in the headline
    results = article(
        [fact("RMB 53 billion", 53e9, "money", "USD", span=(5, 20), metric="ai_capex_plan",
              period="Q3 2025")],
        title="Alibaba Quarter", text="Capex in the September quarter.",
    )  # fmt: skip
    assert restatement.restates(results, st, 60.0) is None  # one quarter's figure
    untyped = article([fact("$53 billion", 53e9, span=(5, 15))], title="Alibaba Deal",
                      text="Alibaba signs a deal.")  # fmt: skip
    assert restatement.restates(untyped, st, 60.0) is None  # an amount no metric names


def test_a_restated_figure_is_the_same_as_written() -> None:
    f = restatement.same_as_written
    a = article([fact("$53 billion", 53e9, span=(0, 5))]).figures[0]
    b = article([fact("$52.7 billion", 52.7e9, span=(0, 5))]).figures[0]
    c = article([fact("RMB 32.3 billion", 32.3e9, "money", "CNY", span=(0, 5))]).figures[0]
    d = article([fact("RMB 31.8 billion", 31.8e9, "money", "CNY", span=(0, 5))]).figures[0]
    e = article([fact("RMB8.0 billion", 8e9, "money", "CNY", span=(0, 5))]).figures[0]
    g = article([fact("7.9 billion yuan", 7.9e9, "money", "CNY", span=(0, 5))]).figures[0]
    assert f(a, b) and f(b, a)
    assert not f(c, d)
    assert not f(e, g)
    assert restatement.written_digits("RMB8.0 billion", 8e9) == 2
    assert restatement.written_digits("$380 billion", 380e9) == 2


def test_every_join_is_explained_in_words() -> None:
    from monitor.dedup.explain import explain

    st = story_of(article(PLAN, title="Alibaba's $53 Billion AI Gambit", text=PLAN_TEXT))
    m = compare(article(PLAN, title="Alibaba Bets $53 Billion on AI", text=PLAN_TEXT), st)
    assert m is not None
    line = explain(m.reason())
    assert line.startswith("same story, on the same") and "$53 billion" in line
    assert "similarity" in line
    plan = fact("$53 billion", 53e9, span=(5, 15), metric="ai_capex_plan")
    later = article([plan], title="Alibaba's $53 Billion Bet", text=PLAN_TEXT)
    restated = restatement.restates(later, story_of(later), 90.0)
    assert restated is not None
    assert explain(restated.reason()).startswith("restates the story's standing figure $53 billion")
    assert "nothing new" in explain(restated.reason())
