"""Unit tests of fact extraction (issue 5): quantities, periods, qualifiers,
attribution, metrics, terms and topics."""

from __future__ import annotations

import random
import time

import pytest

from monitor.extract import extract
from monitor.extract.quantities import find_quantities
from monitor.extract.sentences import split_sentences
from monitor.values import EntityDef, Fact, MetricDef, TermFamily, TopicDef, Vocabulary
from tests.unit.extract_gold import load_vocabulary

VOCAB = load_vocabulary()


def _facts(text: str, title: str = "") -> list[Fact]:
    return list(extract(text, title, VOCAB).facts)


def _one(text: str, surface: str, title: str = "") -> Fact:
    found = [f for f in _facts(text, title) if f.surface == surface]
    assert len(found) == 1, [f.surface for f in _facts(text, title)]
    return found[0]


# ------------------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("text", "surface", "value", "currency"),
    [
        ("spend $53 billion on it", "$53 billion", 53e9, "USD"),
        ("spend $53B on it", "$53B", 53e9, "USD"),
        ("spend US$53bn on it", "US$53bn", 53e9, "USD"),
        ("spend RMB 380 billion on it", "RMB 380 billion", 380e9, "CNY"),
        ("spend CNY80 billion on it", "CNY80 billion", 80e9, "CNY"),
        ("spend 380 billion yuan on it", "380 billion yuan", 380e9, "CNY"),
        ("revenue of $4.35 billion", "$4.35 billion", 4.35e9, "USD"),
        ("invertirá 53.000 millones de dólares", "53.000 millones de dólares", 53e9, "USD"),
        ("repurchased $241 million", "$241 million", 241e6, "USD"),
        ("assets of RMB 1.8 trillion", "RMB 1.8 trillion", 1.8e12, "CNY"),
        ("gold near $4,200 an ounce", "$4,200", 4200.0, "USD"),
        ("a target of HK$600", "HK$600", 600.0, "HKD"),
    ],
)
def test_money_forms_are_normalised(text: str, surface: str, value: float, currency: str) -> None:
    (q,) = find_quantities(text)
    assert (q.surface, q.unit, q.currency) == (surface, "money", currency)
    assert q.value == pytest.approx(value)
    assert text[q.start : q.end] == surface


def test_two_currencies_of_one_amount_are_linked_both_ways() -> None:
    text = "the company directed RMB120 billion ($16.5 billion) to AI"
    cny, usd = find_quantities(text)
    assert (cny.value, cny.currency, cny.alt_value, cny.alt_currency) == (
        120e9, "CNY", 16.5e9, "USD",
    )  # fmt: skip
    assert (usd.value, usd.currency, usd.alt_value, usd.alt_currency) == (
        16.5e9, "USD", 120e9, "CNY",
    )  # fmt: skip
    assert usd.second_currency and not cny.second_currency


def test_comma_conversion_is_linked_but_a_from_to_pair_is_not() -> None:
    a, b = find_quantities("set aside 380 billion yuan, or about $53 billion, for it")
    assert a.alt_currency == "USD" and b.alt_currency == "CNY"
    c, d = find_quantities("from RMB 380 billion to RMB 480 billion")
    assert c.alt_value is None and d.alt_value is None


@pytest.mark.parametrize(
    ("text", "unit", "value", "high", "approx"),
    [
        ("a 34% rise", "percent", 34.0, None, None),
        ("nearly 85-90% of firms", "percent", 85.0, 90.0, "nearly"),
        ("between 3.50% to 3.75%", "percent", 3.5, 3.75, None),
        ("up 2 percentage points", "pp", 2.0, None, None),
        ("cut by 25 basis points", "pp", 0.25, None, None),
        ("trades at 15x", "multiple", 15.0, None, None),
        ("a net debt-to-equity of 0.25x", "multiple", 0.25, None, None),
        ("over 200 models", "count", 200.0, None, "over"),
        ("180k Qwen-based models", "count", 180e3, None, None),
        ("10 million downloads", "count", 10e6, None, None),
        ("triple-digit growth", "growth", 100.0, 999.0, None),
        ("slash prices by up to 97%", "percent", 97.0, None, "up to"),
        ("with $100B+ gaps", "money", 100e9, None, "over"),
    ],
)
def test_units_ranges_and_approximations(
    text: str, unit: str, value: float, high: float | None, approx: str | None
) -> None:
    (q,) = find_quantities(text)
    assert (q.unit, q.value_high, q.approx) == (unit, high, approx)
    assert q.value == pytest.approx(value)


def test_pe_without_an_x_is_a_multiple() -> None:
    (q,) = find_quantities("on a trailing P/E of 19.2.")
    assert (q.unit, q.value, q.surface) == ("multiple", 19.2, "19.2")


@pytest.mark.parametrize(
    "text",
    ["in 2025 earnings terms", "outperforms Llama 3 in benchmarks", "as noted[11] before",
     "Qwen3 models", "in Q3 2025 results", "Dec.06 2025"],
)  # fmt: skip
def test_years_versions_and_citations_are_not_counts(text: str) -> None:
    assert find_quantities(text) == []


# -------------------------------------------------------------------------- sentences


def test_sentences_keep_offsets_and_survive_scraped_text() -> None:
    text = (
        "It could redefine shareholder returns.Alibaba's strategy shifts. Amid U.S. export "
        "rules, rivals like\nand Tencent[11].Despite strains, it holds up.\n\nNext paragraph"
    )
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "It could redefine shareholder returns.",
        "Alibaba's strategy shifts.",
        "Amid U.S. export rules, rivals like\nand Tencent[11].",
        "Despite strains, it holds up.",
        "Next paragraph",
    ]
    for s in sentences:
        assert text[s.start : s.end] == s.text


def test_a_paragraph_break_left_by_a_stripped_name_does_not_split() -> None:
    (s,) = split_sentences("its 4% share lags behind\n\n(20%) and AWS (29%).")
    assert s.text.endswith("AWS (29%).")


# ------------------------------------------------------------- periods and qualifiers


def test_periods() -> None:
    text = (
        "Alibaba will invest $53 billion over the next three years. Alibaba's cloud "
        "revenue was up 34% year-over-year in Q3 2025. Alibaba's FY2025 net income rose "
        "62.62% to RMB 130.11 billion. Alibaba shares are up 45% year to date. Alibaba's "
        "AI-related product revenue posted triple-digit growth for nine consecutive quarters."
    )
    by_surface = {f.surface: f for f in _facts(text)}
    assert by_surface["$53 billion"].period == "next 3 years"
    assert by_surface["34%"].period == "Q3 2025, year-over-year"
    assert by_surface["62.62%"].period == "FY2025"
    assert by_surface["RMB 130.11 billion"].period == "FY2025"
    assert by_surface["45%"].period == "YTD"
    assert by_surface["triple-digit growth"].period == "9 consecutive quarters"


@pytest.mark.parametrize(
    ("text", "surface", "period"),
    [
        ("Alibaba has a $53 billion three-year investment plan.", "$53 billion", "next 3 years"),
        ("Alibaba is investing $53B over three years.", "$53B", "next 3 years"),
        ("Over four quarters, Alibaba channeled RMB120 billion into it.", "RMB120 billion",
         "past 4 quarters"),
        ("China's AI cloud market reached $7.3 billion in 2025.", "$7.3 billion", "2025"),
        ("Alibaba's cloud revenue grew 34% in the third quarter of 2025.", "34%", "Q3 2025"),
        ("Alibaba's net income rose 5% in fiscal 2024.", "5%", "FY2024"),
        ("Alibaba's cloud share was 4% as of Q3 2025, trailing AWS (30%).", "30%", "Q3 2025"),
    ],
)  # fmt: skip
def test_more_periods(text: str, surface: str, period: str) -> None:
    assert _one(text, surface).period == period


def test_global_and_china_shares_are_different_series() -> None:
    text = (
        "Alibaba Cloud holds 4% of the global cloud market. "
        "Alibaba holds 36% of China's cloud market."
    )
    four, thirty_six = _one(text, "4%"), _one(text, "36%")
    assert four.metric == thirty_six.metric == "cloud_market_share"
    assert four.qualifier("scope") == "global"
    assert thirty_six.qualifier("scope") == "china"


def test_forward_and_trailing_pe_are_different_series() -> None:
    text = (
        "Alibaba's stock sits at a forward P/E of 15x. "
        "On a trailing P/E of 19.2, Alibaba looks cheap."
    )
    fwd, trailing = _one(text, "15x"), _one(text, "19.2")
    assert fwd.metric == trailing.metric == "pe_ratio"
    assert fwd.qualifiers == (("basis", "forward"),)
    assert trailing.qualifiers == (("basis", "trailing"),)


def test_a_fall_is_negative() -> None:
    fact = _one("Free cash flow at Alibaba declined 76% in Q4 2025.", "76%")
    assert (fact.metric, fact.value, fact.period) == ("fcf_change", -76.0, "Q4 2025")


# ------------------------------------------------------------------------ attribution


def test_comparative_sentence_credits_each_company() -> None:
    text = (
        "Alibaba's cloud market share remains at 4%, trailing AWS (30%), Microsoft (20%), "
        "and Google (13%)."
    )
    got = {(f.entity, f.metric, f.value) for f in _facts(text)}
    assert got == {
        ("alibaba", "cloud_market_share", 4.0),
        ("aws", "cloud_market_share", 30.0),
        ("microsoft", "cloud_market_share", 20.0),
        ("google", "cloud_market_share", 13.0),
    }


def test_stripped_subject_falls_back_to_main_entity_with_lower_confidence() -> None:
    named = _one("Alibaba is investing $53B over three years.", "$53B")
    stripped = _one(
        "Alibaba's AI plan is vast. Alibaba leads at home.\n\nis investing $53B over three years.",
        "$53B",
        title="Alibaba's AI Push",
    )
    assert named.entity == stripped.entity == "alibaba"
    assert named.metric == stripped.metric == "ai_capex_plan"
    assert stripped.confidence < named.confidence


def test_main_entity_prefers_the_title_then_the_first_and_most_mentions() -> None:
    vocab = VOCAB
    assert extract("AWS and AWS again.", "Alibaba's bet", vocab).main_entity == "alibaba"
    assert extract("Tencent, then Tencent, then AWS.", "", vocab).main_entity == "tencent"
    assert extract("No company here.", "", vocab).main_entity is None


def test_a_bracketed_value_without_a_name_is_credited_to_nobody() -> None:
    fact = _one("its 4% share lags behind\n\n(20%) and AWS (29%).", "20%", title="Alibaba")
    assert fact.entity is None
    assert fact.confidence < 0.5


# ---------------------------------------------------------------------------- metrics


def test_unmatched_quantity_is_an_untyped_figure() -> None:
    fact = _one("Alibaba was fined $2.78 billion in 2021.", "$2.78 billion")
    assert fact.metric is None and fact.entity == "alibaba"


def test_exclude_vetoes_the_nearest_number_only() -> None:
    text = (
        "Its outlays look small beside Microsoft's $100 billion yearly R&D budget, or next to "
        "Amazon's $40 billion of cloud infrastructure spending."
    )
    assert _one(text, "$100 billion").metric is None
    assert _one(text, "$40 billion").metric == "ai_capex_plan"


# ------------------------------------------------------------------ terms and topics


def test_qwen_model_names_are_terms_without_trailing_punctuation() -> None:
    text = (
        "Alibaba shipped Qwen3, Qwen3-Max, Qwen3-Max-Preview and Qwen2.5-Max, and "
        "open-sourced Qwen3-Next-80B-A3B. Developers love Qwen-based apps and Qwen3-based tools."
    )
    result = extract(text, "", VOCAB)
    names = [t.term for t in result.terms if t.family == "qwen_models"]
    assert names == [
        "Qwen3", "Qwen3-Max", "Qwen3-Max-Preview", "Qwen2.5-Max", "Qwen3-Next-80B-A3B", "Qwen3",
    ]  # fmt: skip
    for t in result.terms:
        assert text[t.span[0] : t.span[1]] == t.term
        assert t.entity == "alibaba"


def test_term_owner_is_the_possessor_even_in_a_comparison() -> None:
    text = "Qwen3 outscores OpenAI's GPT-4 as well as Meta's Llama 3 on benchmarks."
    result = extract(text, "Alibaba's Qwen3", VOCAB)
    owners = {t.term: t.entity for t in result.terms}
    assert owners == {"Qwen3": "alibaba", "GPT-4": "openai", "Llama 3": "meta"}


def test_catastrophic_pattern_is_skipped_not_hung() -> None:
    vocab = Vocabulary(
        terms=(
            TermFamily("evil", r"(a|aa)+$"),
            TermFamily("evil2", r"(\w+\s?)+!$"),
            TermFamily("qwen_models", r"\bQwen[0-9][0-9.]*"),
        )
    )
    text = "Qwen3 " + "a" * 40 + "b " + "word " * 40 + "?"
    started = time.monotonic()
    result = extract(text, "", vocab, regex_timeout=0.01)
    # A generous bound that only a hang would break; the timeout itself is 10 ms.
    assert time.monotonic() - started < 10
    assert [t.family for t in result.terms] == ["qwen_models"]
    # evil2 needs a "!" the text lacks: never run. The application names the skipped one.
    assert result.skipped_terms == ("evil",)


def test_invalid_pattern_is_skipped() -> None:
    vocab = Vocabulary(terms=(TermFamily("bad", "(unclosed"), TermFamily("ok", r"Qwen\d")))
    assert [t.term for t in extract("Qwen3 is out.", "", vocab).terms] == ["Qwen3"]


def test_export_control_topic_with_its_entity() -> None:
    text = (
        "Nvidia chips are scarce. US export controls block Alibaba from top chips, and a "
        "chip ban looms for firms on the Entity List."
    )
    result = extract(text, "Alibaba's chip problem", VOCAB)
    hits = [(t.topic, t.phrase.lower(), t.entity) for t in result.topics]
    assert hits == [
        ("chip_export_controls", "export controls", "alibaba"),
        ("chip_export_controls", "chip ban", "alibaba"),
        ("chip_export_controls", "entity list", "alibaba"),
    ]


# --------------------------------------------------------------------------- contract


def test_every_fact_carries_its_evidence() -> None:
    text = (
        "Alibaba will invest $53 billion (RMB 380 billion) over the coming three years. Its "
        "4% global cloud share trails AWS (30%)."
    )
    result = extract(text, "Alibaba", VOCAB)
    assert result.facts
    for f in result.facts:
        assert text[f.span[0] : f.span[1]] == f.surface
        assert f.surface in f.quote and f.quote in text
        assert 0.0 <= f.confidence <= 1.0
        assert list(f.qualifiers) == sorted(f.qualifiers)
    assert result.entities == ("alibaba", "aws")


def test_pure_and_deterministic() -> None:
    text = "Alibaba is investing $53B over three years; its 4% share trails AWS (30%)."
    assert extract(text, "t", VOCAB) == extract(text, "t", VOCAB)


def test_empty_inputs() -> None:
    assert extract("", "", Vocabulary()).facts == ()
    assert extract("", "", VOCAB).main_entity is None
    result = extract("It grew 5% to $3 billion.", "", Vocabulary())
    assert [(f.metric, f.entity) for f in result.facts] == [(None, None), (None, None)]


def test_a_small_custom_vocabulary() -> None:
    vocab = Vocabulary(
        entities=(EntityDef("acme", ("Acme", "ACME Corp")),),
        metrics=(MetricDef("widget_sales", "count", ("widgets",)),),
        topics=(TopicDef("recall", ("product recall",)),),
    )
    result = extract("ACME Corp sold 5 million widgets before the product recall.", "", vocab)
    (fact,) = result.facts
    assert (fact.entity, fact.metric, fact.value) == ("acme", "widget_sales", 5e6)
    assert [t.topic for t in result.topics] == ["recall"]


def test_vocabulary_file_is_well_formed() -> None:
    kinds = {"money", "percent", "multiple", "count", "growth"}
    assert {m.kind for m in VOCAB.metrics} <= kinds
    ids = {m.id for m in VOCAB.metrics}
    assert {
        "ai_capex_plan", "cloud_market_share", "cloud_revenue", "cloud_revenue_growth",
        "ai_revenue_growth", "net_income", "net_income_change", "fcf_change", "pe_ratio",
        "ps_ratio", "buyback_remaining", "stock_move_ytd", "price_target",
    } <= ids  # fmt: skip
    names = [n for e in VOCAB.entities for n in e.names]
    assert len(names) == len(set(names)), "a name may belong to one entity only"
    assert {"alibaba", "aws", "microsoft", "google", "tencent", "bytedance", "huawei", "baidu"} <= {
        e.id for e in VOCAB.entities
    }


# ----------------------------------------------------------------------- robustness


def test_scrambled_text_keeps_every_invariant() -> None:
    """Random runs of money, percent, names and punctuation: nothing raises, every
    span points at its surface, and no quantity straddles two sentences."""
    rng = random.Random(20251120)
    pieces = [
        *"abc XYZ 0123456789 $%.,;:()[]-–—x×\n\n\t¥€£İ'’\"ök",
        *("RMB ", "US$", " billion", " million", "k ", " percent", "P/E of ", "Alibaba"),
        *("AWS", "Qwen3-", "export controls", "triple-digit ", " (", ")", ". "),
    ]
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 120)))
        result = extract(text, text[:30], VOCAB)
        for f in result.facts:
            assert text[f.span[0] : f.span[1]] == f.surface
            assert f.surface in f.quote
        for span in [t.span for t in result.terms] + [t.span for t in result.topics]:
            assert 0 <= span[0] <= span[1] <= len(text)


def test_long_and_degenerate_texts() -> None:
    long_text = "Alibaba is investing $53B over three years. " * 2000
    result = extract(long_text, "", VOCAB)
    assert len(result.facts) == 2000
    assert all(f.metric == "ai_capex_plan" for f in result.facts)
    assert extract("9" * 50_000, "", VOCAB).facts == ()
    assert extract("a." * 20_000, "", VOCAB).facts == ()


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("380 bıllıon yuan", 380e9, "CNY"),  # dotless i: matched as "billion" by re
        ("53.000 mıllones de dólares", 53e9, "USD"),
        ("an outlay of $53 bıllıon", 53e9, "USD"),
        ("RMB 380 BİLLİON", 380e9, "CNY"),  # dotted capital I lowers to "i" + a dot
        ("12 thouſand yuan", 12e3, "CNY"),  # long s
    ],
)
def test_letters_that_match_case_insensitively_are_read_as_they_match(
    text: str, value: float, currency: str
) -> None:
    """A word the pattern matches must be found in the tables: these used to raise."""
    (q,) = find_quantities(text)
    assert (q.value, q.currency) == (value, currency)


@pytest.mark.parametrize(
    ("text", "unit", "value", "surface"),
    [
        ("caps orders at 1’700 GPUs", "count", 1700.0, "1’700 GPUs"),
        ("up to 320'000 GPUs", "count", 320000.0, "320'000 GPUs"),
        ("exempts 18 named allies", "count", 18.0, "18 named allies"),
        ("bought 10,000 Nvidia A100 chips", "count", 10000.0, "10,000 Nvidia A100 chips"),
        ("up to 1,700 of the newest AI chips", "count", 1700.0, "1,700 of the newest AI chips"),
        ("a 7-billion-parameter model", "count", 7e9, "7-billion"),
        ("it scored 88.5 points", "points", 88.5, "88.5 points"),
        ("about 900 TFLOPS of compute", "TFLOPS", 900.0, "900 TFLOPS"),
        ("1.2 TB/s of bandwidth", "TB/s", 1.2, "1.2 TB/s"),
        ("added 2.5 gigawatts of capacity", "GW", 2.5, "2.5 gigawatts"),
    ],
)
def test_counts_points_and_physical_units(text: str, unit: str, value: float, surface: str) -> None:
    qs = find_quantities(text)
    assert [(q.unit, q.value, q.surface) for q in qs] == [(unit, value, surface)]


@pytest.mark.parametrize(
    "text", ["up 2 percentage points", "in 2024 Nvidia GPUs", "for 3 consecutive quarters"]
)
def test_points_years_and_periods_are_not_counts(text: str) -> None:
    assert all(q.unit not in ("count", "points") for q in find_quantities(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at only half the cost", [("ratio", 0.5, None, "half")]),
        ("runs twice as fast", [("ratio", 2.0, None, "twice")]),
        ("in the first half of 2025", []),
        ("on behalf of the firm", []),
        ("will spend $40 billion to $45 billion",
         [("money", 40e9, 45e9, "$40 billion to $45 billion")]),
        ("rose from $40 billion to $45 billion", [("money", 40e9, None, "$40 billion"),
                                                  ("money", 45e9, None, "$45 billion")]),
        ("with a score of 71.5 on the test", [("points", 71.5, None, "71.5")]),
        ("it scored 71% on the test", [("percent", 71.0, None, "71%")]),
    ],
)  # fmt: skip
def test_ratio_words_money_ranges_and_scores(
    text: str, expected: list[tuple[str, float, float | None, str]]
) -> None:
    got = [(q.unit, q.value, q.value_high, q.surface) for q in find_quantities(text)]
    assert got == expected


def test_a_number_too_large_for_any_figure_is_no_quantity() -> None:
    """Four hundred digits and "billion" made an infinite amount, stored, which broke the
    chart, the JSON of the API and `facts --json`. Past a quintillion a number is no
    figure; the ones news reports stay."""
    huge = "9" * 400
    text = (
        f"The fund plans ${huge} billion, {huge} units and {'9' * 25} users; "
        "Alibaba plans RMB 380 billion and trained on 36 trillion tokens."
    )
    got = find_quantities(text)
    assert [q.surface for q in got] == ["RMB 380 billion", "36 trillion"]
    assert got[0].value == 380e9


def test_json_of_read_models_has_no_infinity() -> None:
    import json
    from dataclasses import dataclass

    from monitor.jsonable import plain

    @dataclass
    class Row:
        value: float
        values: tuple[float, ...]

    out = json.dumps(plain([Row(float("inf"), (float("nan"), 2.5))]), allow_nan=False)
    assert json.loads(out) == [{"value": None, "values": [None, 2.5]}]


@pytest.mark.parametrize("dash", ["-", "\u2013", "\u2012", "\u2014", "\u2212"])
def test_a_range_is_read_whatever_its_dash_and_in_order(dash: str) -> None:
    """A figure dash, an em dash or a minus sign between two numbers gave only the second
    ("5‒10%" read as 10%); a range written high to low kept its high below its low."""
    (q,) = find_quantities(f"Cloud revenue rose 5{dash}10% in the quarter.")
    assert (q.value, q.value_high, q.unit) == (5.0, 10.0, "percent")
    (back,) = find_quantities(f"Alibaba will invest $10{dash}5 billion.")
    assert (back.value, back.value_high) == (5e9, 10e9)


def test_a_fall_of_nothing_is_zero_not_minus_zero() -> None:
    vocab = load_vocabulary()
    facts = extract("Alibaba cloud revenue fell 0% in the quarter.", "Alibaba", vocab).facts
    assert [str(f.value) for f in facts if f.unit == "percent"] == ["0.0"]


def test_a_sentence_of_hundreds_of_figures_is_read_in_stretches() -> None:
    """A page without full stops (a table flattened into text) is one "sentence": read
    whole, each figure was weighed against each cue of it, and 200 KB took 16 s. It is
    read in stretches of MAX_SENTENCE_FIGURES figures, each figure still found and
    attributed, each quote a stretch of the sentence."""
    from monitor.extract.extractor import MAX_SENTENCE_FIGURES

    vocab = load_vocabulary()
    clause = "Alibaba Cloud revenue grew {n}% and capex rose to ${n} billion, "
    text = "".join(clause.format(n=n + 1) for n in range(150)) + "analysts said."
    facts = extract(text, "Alibaba", vocab).facts
    assert len(facts) == 300 and all(f.entity == "alibaba" for f in facts)
    assert {f.value for f in facts if f.unit == "percent"} == set(range(1, 151))
    assert all(f.quote in text for f in facts)
    assert max(len(f.quote) for f in facts) < len(clause) * (MAX_SENTENCE_FIGURES // 2 + 2)


def test_later_mentions_of_many_companies_outside_the_vocabulary_are_all_found() -> None:
    """Past a few names, their later bare mentions are found in one pass over the words
    (an article naming thousands took the square of their number); each still is."""
    from monitor.extract.organisations import find_organisations

    names = [f"Zentrix{n} Robotics" for n in range(30)]
    text = " ".join(f"{name} Inc. said sales rose." for name in names)
    text += " " + " ".join(f"Later, {name} hired staff." for name in names)
    from monitor.extract.entities import find_mentions
    from monitor.extract.vocab import compile_vocabulary

    cues: list[tuple[int, int]] = []
    known = find_mentions(text, compile_vocabulary(load_vocabulary()), cues)
    found, slugs = find_organisations(text, known, cues)
    assert len(slugs) == 30
    for slug in slugs:
        assert sum(1 for m in found if m.entity == slug) == 2, slug


@pytest.mark.parametrize(
    ("text", "surface", "value", "high", "currency"),
    [
        # a dollar of another country is not the US dollar
        ("TSMC set aside NT$1.2 trillion", "NT$1.2 trillion", 1.2e12, None, "TWD"),
        ("a A$5 billion data-centre plan", "A$5 billion", 5e9, None, "AUD"),
        ("about C$2.5 billion", "C$2.5 billion", 2.5e9, None, "CAD"),
        ("a S$300 million hub", "S$300 million", 300e6, None, "SGD"),
        ("spend ₩20 trillion on chips", "₩20 trillion", 20e12, None, "KRW"),
        ("spend JPY 1.5 trillion on chips", "JPY 1.5 trillion", 1.5e12, None, "JPY"),
        ("spend 1.5 trillion yen on chips", "1.5 trillion yen", 1.5e12, None, "JPY"),
        ("spend 20 trillion won on chips", "20 trillion won", 20e12, None, "KRW"),
        ("about 12 billion Australian dollars", "12 billion Australian dollars", 12e9, None,
         "AUD"),
        ("capex of 380bn yuan", "380bn yuan", 380e9, None, "CNY"),
        # a scale written in the plural
        ("decided to spend $53 billions on AI", "$53 billions", 53e9, None, "USD"),
        # ranges in words, and in a currency written after the numbers
        ("between $64 billion and $72 billion this year", "$64 billion and $72 billion",
         64e9, 72e9, "USD"),
        ("plans 90-100 billion yuan of capex", "90-100 billion yuan", 90e9, 100e9, "CNY"),
        ("plans 90 billion to 100 billion yuan of capex", "90 billion to 100 billion yuan",
         90e9, 100e9, "CNY"),
        ("between 90 billion and 100 billion yuan", "90 billion and 100 billion yuan", 90e9,
         100e9, "CNY"),
    ],
)  # fmt: skip
def test_currencies_plural_scales_and_ranges_in_words(
    text: str, surface: str, value: float, high: float | None, currency: str
) -> None:
    (q,) = find_quantities(text)
    assert (q.surface, q.unit, q.currency, q.value_high) == (surface, "money", currency, high)
    assert q.value == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the dollar X$5 billion note", []),  # an unknown country's dollar: no currency
        ("won 3 awards and 20 contracts", [("count", 3.0), ("count", 20.0)]),  # the verb
        ("20 won in the year", []),  # "won" is a currency only after a scale word
        ("trades at 18 times forward earnings", [("multiple", 18.0)]),
        ("shares trade at 11.5 times earnings", [("multiple", 11.5)]),
        ("at 6 times sales", [("multiple", 6.0)]),
        ("three times the size, 3 times a week", []),
        ("from $40 billion and $45 billion", [("money", 40e9), ("money", 45e9)]),
        ("cut prices on 5 models to 99,800 yuan", [("count", 5.0), ("money", 99800.0)]),
    ],
)
def test_what_is_not_read_as_a_currency_range_or_multiple(
    text: str, expected: list[tuple[str, float]]
) -> None:
    assert [(q.unit, q.value) for q in find_quantities(text)] == expected


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Alibaba's cloud market share slipped to 34% from 36% in the quarter.", ["34%"]),
        ("Tencent raised its capex plan to 115 billion yuan, up from the 100 billion yuan "
         "it planned in March.", ["115 billion yuan"]),
        ("Alibaba's capex rose from $40 billion to $45 billion.", ["$45 billion"]),
        # "from" before no figure, or a figure with nothing it changed to: kept
        ("Alibaba's revenue from cloud rose 34% to $5 billion.", ["34%", "$5 billion"]),
        ("Alibaba's shares fell 5% from their peak of $120.", ["5%", "$120"]),
        ("Aside from the $5 billion buyback, Alibaba will spend $10 billion on AI this year.",
         ["$5 billion", "$10 billion"]),
        ("Alibaba's capex rose to $10 billion, while Tencent's slipped from $8 billion.",
         ["$10 billion", "$8 billion"]),
    ],
)  # fmt: skip
def test_the_value_a_figure_changed_from_is_no_fact_of_its_own(text: str, kept: list[str]) -> None:
    """ "Slipped to 34% from 36%" stored a second, current market share of 36%."""
    assert [f.surface for f in _facts(text)] == kept
