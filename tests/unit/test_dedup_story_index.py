"""The indexed same-story matcher gives what the plain pairwise one gives (issue 4, point 3).

The figure index (``monitor.dedup.figures``), the counted story profiles
(``monitor.dedup.story_members``) and their stored form (``monitor.dedup.story_codec``)
exist for speed only: these tests hold them to the plain definitions, written out here as
the reference, on random figures dense enough that the tolerances, second currencies and
signs all come into play.
"""

from __future__ import annotations

import itertools
import json
import random

import numpy as np
from datasketch import MinHash

from monitor.dedup import figures, minhash, story, story_codec, story_members, text_vector
from monitor.dedup.figures import FigureIndex
from monitor.dedup.story import ArticleProfile, Figure, StoryProfile
from monitor.values import Extraction, Fact, TermHit, TopicHit


def reference_counts(members: list[ArticleProfile]) -> list[tuple[Figure, int]]:
    """Each figure of the members, counted once per member that states it: a figure
    matching one already held adds to the count of the first it matches; after each
    member the best-supported come first, at most ``MAX_FIGURES`` of them."""
    held: list[tuple[Figure, int]] = []
    for m in members:
        for f in m.figures:
            for j, (g, n) in enumerate(held):
                if f.matches(g):
                    held[j] = (g._replace(lead=g.lead or f.lead), n + 1)
                    break
            else:
                held.append((f, 1))
        held = sorted(held, key=lambda p: -p[1])[: story.MAX_FIGURES]
    return held


def reference_shared(article: ArticleProfile, st: StoryProfile) -> list[tuple[str, str]]:
    """One-to-one, the article's heaviest figures first, each taking the best-supported
    story figure it matches."""
    used = [False] * len(st.figures)
    pairs: list[tuple[str, str]] = []
    for f in sorted(article.figures, key=lambda x: -x.weight):
        free = [j for j, (g, _) in enumerate(st.figures) if not used[j] and f.matches(g)]
        if free:
            j = max(free, key=lambda k: (st.figures[k][1], -k))
            used[j] = True
            pairs.append((f.surface, st.figures[j][0].surface))
    return pairs


UNITS = ["money", "money", "percent", "count", "growth", "multiple"]
CURRENCIES = ["USD", "CNY", "EUR"]


def random_fact(rng: random.Random, k: int) -> Fact:
    unit = rng.choice(UNITS)
    # few distinct magnitudes, each drifted a little: many pairs sit near the tolerance
    base = rng.choice([1.0, 4.0, 12.0, 36.0, 53e9, 380e9, 2.5e6])
    value = base * rng.choice([1.0, 1.0, 0.98, 1.02, 1.03, 0.975, 1.0255]) + rng.choice(
        [0.0, 0.0, 0.25, -0.31]
    )
    if rng.random() < 0.15:
        value = -value
    cur = rng.choice(CURRENCIES) if unit == "money" else None
    alt = None
    if unit == "money" and rng.random() < 0.3:
        alt = (rng.choice(CURRENCIES), value * rng.choice([7.1, 0.14]))
    return Fact(
        entity="acme",
        metric=None,
        value=value,
        unit=unit,
        surface=f"f{k}",
        quote=f"q{k % 3}",
        span=(k * 10, k * 10 + 5),
        confidence=0.9,
        currency=cur,
        alt_currency=alt[0] if alt else None,
        alt_value=alt[1] if alt else None,
    )


def random_profile(rng: random.Random, n: int) -> ArticleProfile:
    facts = tuple(random_fact(rng, k) for k in range(n))
    words = ["capex", "cloud", "plan", "chips", "model", "launch", "quarter", "revenue"]
    profile = story.profile(
        " ".join(rng.sample(words, 4)),
        " ".join(rng.choice(words) for _ in range(30)),
        Extraction(
            main_entity="acme",
            facts=facts,
            terms=(TermHit("m", f"Model-{rng.randint(1, 3)}", "", (0, 0)),),
            topics=(TopicHit("ai", "ai", "", (0, 0)),),
        ),
    )
    return story.weighed(profile, {}, 0)


def test_indexed_counts_and_sharing_equal_the_pairwise_definitions() -> None:
    rng = random.Random(7)
    checked = shared = 0
    for _ in range(150):
        members = [random_profile(rng, rng.randint(0, 12)) for _ in range(rng.randint(1, 8))]
        st = story.StoryProfile(1, "acme", 0)
        for m in members:
            st = story_members.joined(st, m)
        assert list(st.figures) == reference_counts(members)
        art = random_profile(rng, rng.randint(0, 12))
        _, _, got = story.shared_figures(art, st)
        assert got == reference_shared(art, st)
        checked += len(art.figures) * len(st.figures)
        shared += len(got)
    # the comparisons were neither trivially empty nor all matching
    assert checked > 10_000 and 100 < shared < checked / 4


def test_one_currency_compares_amounts_not_their_rounded_conversions() -> None:
    a = Figure("money", "CNY", 6.4e9, "RMB 6.4 billion", 1.0, "USD", 0.9e9)
    b = Figure("money", "CNY", 6.8e9, "RMB 6.8 billion", 1.0, "USD", 0.9e9)
    usd = Figure("money", "USD", 0.9e9, "$0.9 billion", 1.0)
    assert not a.matches(b)
    assert a.matches(usd) and b.matches(usd)
    index = FigureIndex()
    index.add(b, 0)
    index.add(usd, 1)
    assert index.matching(a) == {1}


def test_profiles_survive_json_exactly() -> None:
    rng = random.Random(11)
    st = story.StoryProfile(9, "acme", 0)
    for _ in range(5):
        st = story_members.joined(st, random_profile(rng, 10))
    encoded = json.loads(json.dumps(story_codec.encode_story(st)))
    decoded = story_codec.decode_story(9, "acme", encoded)
    assert decoded == st
    art = random_profile(rng, 10)
    assert story.compare(art, decoded) == story.compare(art, st)
    # a profile of the first story index is rebuilt from the rows, not misread
    assert story_codec.decode_story(9, "acme", {"v": 1, "f": [], "t": []}) is None


def test_the_centroid_is_read_from_the_head_of_the_stored_text() -> None:
    """A profile stored as encode_story orders it has its centroid parsed alone (no whole
    profile comes back); a text in another order, as stored before, is parsed whole. The
    centroid is the same either way, exactly."""
    st = story_members.joined(story.StoryProfile(9, "acme", 0), random_profile(random.Random(5), 8))
    st = story_members.joined(st, random_profile(random.Random(6), 8))
    encoded = story_codec.encode_story(st)
    text = json.dumps(encoded)
    centroid, parsed = story_codec.centroid_of(text)
    assert parsed is None and centroid == st.centroid == story_codec.decode_centroid(encoded)
    older = json.dumps({k: encoded[k] for k in ("v", "n", "f", "t", "x", "p", "lt")})
    centroid, parsed = story_codec.centroid_of(older)
    assert parsed == encoded and centroid == st.centroid
    assert story_codec.decode_story(9, "acme", json.loads(older)) == st
    # an older version is not read as the current one, in either order
    stale = text.replace(f'"v": {story_codec.VERSION}', '"v": 1', 1)
    assert story_codec.centroid_of(stale)[0] is None


def test_decoded_profiles_share_their_names() -> None:
    # two profiles read from two texts: one copy of each unit and company name in memory
    st = story_members.joined(story.StoryProfile(9, "acme", 0), random_profile(random.Random(3), 6))
    text = json.dumps(story_codec.encode_story(st))
    one, two = (story_codec.decode_story(9, "acme", json.loads(text)) for _ in range(2))
    assert one is not None and two is not None and one == two
    for (f, _), (g, _) in zip(one.figures, two.figures, strict=True):
        assert f.unit is g.unit
        assert f.entity is g.entity
        assert f.metric is g.metric


def test_lede_is_the_first_words_after_lines_of_chrome() -> None:
    long = " ".join(f"w{i}" for i in range(500))
    assert text_vector.lede(long) == " ".join(f"w{i}" for i in range(text_vector.LEDE_WORDS))
    assert text_vector.lede("  a \n b  ") == "b"
    banner = "Market Newsletter\nFree to your inbox\nAcme opened a plant in Chile on Monday."
    assert text_vector.lede(banner) == "Acme opened a plant in Chile on Monday."


def test_signature_is_datasketch_over_each_shingle() -> None:
    """One update with the whole array equals datasketch fed shingle by shingle."""
    rng = random.Random(3)
    vocab = [f"word{i}" for i in range(400)]
    for n in (1, 2, 3, 50, 900):
        text = " ".join(rng.choice(vocab) for _ in range(n))
        sh = minhash.shingles(text)
        m = MinHash(
            num_perm=minhash.NUM_PERM,
            seed=minhash.SEED,
            hashfunc=int,
            permutations=minhash._PERMUTATIONS,
            scheme="affine32",
        )
        for v in sh.tolist():
            m.update(v)
        low = (np.asarray(m.hashvalues, dtype=np.uint32) & 0xFFFF).astype("<u2")
        assert minhash.signature(text) == bytes([minhash.VERSION]) + low.tobytes()


def test_figure_spans_hold_the_key_of_every_figure_within_tolerance() -> None:
    """Keys are magnitudes: one range per figure amount (joined where ranges of one unit
    and currency overlap) holds the key of every stated figure within the matcher's
    tolerance of it, of either sign, and the ranges of one unit and currency are
    disjoint. (A headline's rounding, "2%" for "2.4%", is not looked up by range.)"""
    rng = random.Random(12)
    for _ in range(300):
        stated_figures: list[Figure] = []
        for _ in range(rng.randint(1, 6)):
            unit = rng.choice(["percent", "money"])
            cur = "USD" if unit == "money" else None
            value = rng.choice([1, -1]) * (
                rng.uniform(0, 60) if cur is None else 10 ** rng.uniform(6, 11)
            )
            stated_figures.append(Figure(unit, cur, round(value, 1), "", 1.0))
        spans = story_members.figure_spans(stated_figures)
        by: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for unit, cur, lo, hi in spans:
            by.setdefault((unit, cur), []).append((lo, hi))
        for ranges in by.values():
            assert ranges == sorted(ranges)
            assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))
        for f in stated_figures:
            for _ in range(10):
                sign = rng.choice([1, -1])
                near = f.value * (1 + rng.uniform(-0.03, 0.03)) + rng.uniform(-0.35, 0.35)
                stated = Fact("acme", None, sign * near, f.unit, "", "q", (0, 0), 0.9, f.currency)
                a, b = abs(f.value), abs(stated.value)
                tol = figures.REL_TOLERANCE * max(a, b)
                if f.unit == "percent":
                    tol = max(tol, figures.ABS_TOLERANCE_PCT)
                if abs(a - b) > tol:
                    continue
                (unit, cur, key, _alt), *_ = story_members.fact_keys([stated])
                assert key >= 0
                assert any((u, c) == (unit, cur) and lo <= key <= hi for u, c, lo, hi in spans), (
                    f,
                    stated.value,
                    spans,
                )
