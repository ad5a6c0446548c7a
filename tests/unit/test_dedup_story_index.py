"""The indexed same-story matcher gives what the plain pairwise one gives (issue 4, point 3).

The figure index in ``monitor.dedup.story`` and the stored profiles
(``monitor.dedup.story_codec``) exist for speed only: these tests hold them to the plain
definitions, written out here as the reference, on random figures dense enough that the
tolerances, second currencies and signs all come into play.
"""

from __future__ import annotations

import json
import random

import numpy as np
from datasketch import MinHash

from monitor.dedup import minhash, story, story_codec
from monitor.dedup.story import ArticleProfile, Figure, StoryProfile
from monitor.values import Extraction, Fact, TermHit, TopicHit


def reference_union(members: list[ArticleProfile]) -> tuple[Figure, ...]:
    figures: list[Figure] = []
    for m in members:
        for f in m.figures:
            if not any(f.matches(o) for o in figures):
                figures.append(f)
    return tuple(figures)


def reference_shared(
    article: ArticleProfile, st: StoryProfile
) -> tuple[float, list[tuple[str, str]]]:
    used = [False] * len(st.figures)
    evidence = 0.0
    pairs: list[tuple[str, str]] = []
    for f in sorted(article.figures, key=lambda x: -x.weight):
        for j, g in enumerate(st.figures):
            if not used[j] and f.matches(g):
                used[j] = True
                evidence += f.weight
                pairs.append((f.surface, g.surface))
                break
    return evidence, pairs


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
    return story.profile(
        " ".join(rng.sample(words, 4)),
        " ".join(rng.choice(words) for _ in range(30)),
        Extraction(
            main_entity="acme",
            facts=facts,
            terms=(TermHit("m", f"Model-{rng.randint(1, 3)}", "", (0, 0)),),
            topics=(TopicHit("ai", "ai", "", (0, 0)),),
        ),
    )


def test_indexed_union_and_sharing_equal_the_pairwise_definitions() -> None:
    rng = random.Random(7)
    checked = shared = 0
    for _ in range(150):
        members = [random_profile(rng, rng.randint(0, 12)) for _ in range(rng.randint(1, 8))]
        st = story.story_profile(1, "acme", members)
        assert st.figures == reference_union(members)
        art = random_profile(rng, rng.randint(0, 12))
        got = story._shared(art, st)
        assert got == reference_shared(art, st)
        checked += len(art.figures) * len(st.figures)
        shared += len(got[1])
    # the comparisons were neither trivially empty nor all matching
    assert checked > 10_000 and 100 < shared < checked / 4


def test_profiles_survive_json_exactly() -> None:
    rng = random.Random(11)
    members = [random_profile(rng, 10) for _ in range(5)]
    for m in members:
        back = story_codec.decode_article(json.loads(json.dumps(story_codec.encode_article(m))))
        assert back.figures == m.figures and back.terms == m.terms
        assert back.title_words == m.title_words and back.lede_words == m.lede_words
    encoded = json.loads(json.dumps(story_codec.encode_story(members)))
    decoded = story_codec.decode_story(9, "acme", encoded)
    expected = story.story_profile(9, "acme", members)
    assert decoded.figures == expected.figures
    assert (decoded.terms, decoded.topics) == (expected.terms, expected.topics)
    assert sorted(map(sorted, decoded.titles)) == sorted(map(sorted, expected.titles))
    assert sorted(map(sorted, decoded.ledes)) == sorted(map(sorted, expected.ledes))
    art = random_profile(rng, 10)
    assert story.compare(art, decoded) == story.compare(art, expected)


def test_lede_is_the_first_words_of_long_and_short_texts() -> None:
    long = " ".join(f"w{i}" for i in range(500))
    assert story.lede(long) == " ".join(f"w{i}" for i in range(story.LEDE_WORDS))
    assert story.lede("  a \n b  ") == "a b"


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
