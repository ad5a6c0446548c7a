"""Same-story level: AI rewrites restate the same facts in other words.

Rewrites of one announcement sit near word-shingle Jaccard 0.1 (DESIGN.md section 8), so
no n-gram method joins them; what they keep is the substance: the main entity, the
distinctive figures ("$53 billion", "RMB 380 billion", "35.8%"), named terms (model
names) and sometimes the title or lede. This module compares an article's
:class:`ArticleProfile` with the profiles of recent stories and explains its verdict.

The decision rule (issue 4, point 3), checked on the evaluation set in
``tests/unit/dedup_eval.py``:

* The main entities must agree (or one side has none). An article about another company
  joins only on overwhelming shared facts (``CONFLICT_FACTS``), so a market-wide article
  that names the other company first still finds its story.
* Evidence is the weighted count of the article's figures that the story already holds
  (one-to-one, with a small tolerance so that "$52 billion" meets "$53 billion" and "36%"
  meets "35.8%"). Money counts most, then percentages, multiples and large counts; years
  and small counts count little. An amount given in two currencies ("RMB 380 billion
  (about $53 billion)") is one figure, matched by either currency.
* It joins on ``facts``: ``MIN_FACTS`` of evidence covering ``MIN_COVERAGE`` of the
  article's own figures; or ``short-facts``: at least ``SHORT_SHARED`` shared figures that
  are nearly all (``SHORT_COVERAGE``) of a short article's figures; or ``facts+terms``:
  some shared figures plus ``MIN_TERMS`` shared specific terms (model names with a version
  number, such as Qwen3-Max-Preview); or ``facts+wording``: ``FEW_SHARED`` figures that
  are nearly all of the article's, with a title or lede that also agrees; or a very
  similar ``title`` or ``lede`` alone. When several stories qualify, the strongest kind of
  evidence wins (``BASIS_RANK``); an article that joins two stories on figures shows they
  are one (``BRIDGING``: the store merges them).
* A different event of the same company that repeats a headline figure (a plan raised to
  RMB 480 billion, then new regions "under the enlarged RMB 480 billion plan") shares too
  few figures to pass, and one shared model name is not enough: a company's flagship
  model appears in most of its stories.
* Title and lede similarity use content words only: no function words and no numbers,
  which the figures already account for, so that two articles built on the same generic
  phrases ("What It Means for Investors") do not look alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.dedup.figures import (
    ABS_TOLERANCE_PCT,
    REL_TOLERANCE,
    TWIN_GAP,
    Figure,
    FigureIndex,
    fact_weight,
    figures_of,
    union_figures,
)
from monitor.dedup.normalize import normalise
from monitor.values import Extraction

__all__ = [
    "ABS_TOLERANCE_PCT",
    "REL_TOLERANCE",
    "TWIN_GAP",
    "ArticleProfile",
    "Figure",
    "StoryMatch",
    "StoryProfile",
    "compare",
    "fact_weight",
    "match_story",
    "matching_stories",
    "profile",
    "story_profile",
    "union_figures",
]

MIN_FACTS = 3.0  # weighted shared figures for a join on facts alone
MIN_COVERAGE = 0.5  # ... covering at least this share of the article's figure weight
SHORT_SHARED = 3  # a short fact sheet: this many shared figures ...
SHORT_COVERAGE = 0.75  # ... that are nearly all of the article's figures
FEW_SHARED = 2  # fewer shared figures, still nearly all of the article's, ...
FEW_TEXT_SIM = 0.3  # ... when the title or lede also agrees this much
MIN_TERMS = 2  # shared specific terms (with a version number) ...
TERM_FACTS = 1.0  # ... plus this much shared figure weight
TITLE_SIM = 0.6  # content-word Jaccard of titles: "very similar"
LEDE_SIM = 0.5  # content-word Jaccard of ledes
CONFLICT_FACTS = 6.0  # another main entity joins only with this much evidence
CONFLICT_COVERAGE = 0.6
MIN_TITLE_WORDS = 3  # content words a title needs before its similarity counts
MIN_LEDE_WORDS = 8  # ... and a lede
LEDE_WORDS = 60  # the lede: the first words of the text

# Function words carry no topic: two titles sharing only "the" and "as" are not alike.
_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers him his how i if in into is it its
    itself just me more most my new no nor not now of off on once only or other our out over
    own same she should so some such than that the their them then there these they this
    those through to too under until up very was we were what when where which while who
    whom why will with would you your s t vs billion million trillion thousand bn rmb yuan
    usd percent""".split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class ArticleProfile:
    main_entity: str | None
    entities: frozenset[str]
    figures: tuple[Figure, ...]
    terms: frozenset[str]  # lower-cased, e.g. "qwen3-max"
    topics: frozenset[str]
    title_words: frozenset[str]
    lede_words: frozenset[str]

    @property
    def figure_weight(self) -> float:
        return sum(f.weight for f in self.figures)


@dataclass(frozen=True, slots=True)
class StoryProfile:
    """What a story already holds: the union of its members' profiles."""

    story_id: int
    main_entity: str | None
    figures: tuple[Figure, ...]
    terms: frozenset[str]
    topics: frozenset[str]
    titles: tuple[frozenset[str], ...]
    ledes: tuple[frozenset[str], ...]


@dataclass(frozen=True, slots=True)
class StoryMatch:
    story_id: int
    score: float
    basis: str  # facts | short-facts | title | lede | conflict-facts
    shared_facts: tuple[tuple[str, str], ...]  # (article surface, story surface)
    shared_terms: tuple[str, ...]
    shared_topics: tuple[str, ...]
    fact_evidence: float
    coverage: float
    title_similarity: float
    lede_similarity: float

    def reason(self) -> dict[str, Any]:
        """JSON-ready: why the article joined the story."""
        return {
            "level": "story",
            "basis": self.basis,
            "score": round(self.score, 3),
            "shared_facts": [list(p) for p in self.shared_facts],
            "shared_terms": list(self.shared_terms),
            "shared_topics": list(self.shared_topics),
            "fact_evidence": round(self.fact_evidence, 2),
            "coverage": round(self.coverage, 2),
            "title_similarity": round(self.title_similarity, 2),
            "lede_similarity": round(self.lede_similarity, 2),
        }


_ASCII_DIGITS = frozenset("0123456789")


def _has_digit(w: str) -> bool:
    # an ASCII word has a digit only among 0-9: a set test in C instead of a generator
    if w.isascii():
        return not _ASCII_DIGITS.isdisjoint(w)
    return any(c.isdigit() for c in w)


def content_words(text: str) -> frozenset[str]:
    return frozenset(
        w
        for w in normalise(text).split()
        if len(w) > 1 and w not in _STOPWORDS and not _has_digit(w)
    )


def specific(term: str) -> bool:
    """A versioned name (Qwen3-Max, GPT-4o) marks one release; a bare family name does not."""
    return any(c.isdigit() for c in term)


def lede(text: str) -> str:
    """The first ``LEDE_WORDS`` words: enough for the first two sentences of an article."""
    # maxsplit: a news article is ten times longer than its lede
    return " ".join(text.split(None, LEDE_WORDS)[:LEDE_WORDS])


def profile(title: str, text: str, extraction: Extraction) -> ArticleProfile:
    return ArticleProfile(
        main_entity=extraction.main_entity,
        entities=frozenset(extraction.entities),
        figures=figures_of(extraction.facts),
        terms=frozenset(t.term.lower() for t in extraction.terms),
        topics=frozenset(t.topic for t in extraction.topics),
        title_words=content_words(title),
        lede_words=content_words(lede(text)),
    )


def story_profile(
    story_id: int, main_entity: str | None, members: Sequence[ArticleProfile]
) -> StoryProfile:
    """The union of the members' profiles, the first listed member's figures first."""
    return StoryProfile(
        story_id=story_id,
        main_entity=main_entity,
        figures=union_figures(m.figures for m in members),
        terms=frozenset().union(*(m.terms for m in members)),
        topics=frozenset().union(*(m.topics for m in members)),
        titles=tuple(m.title_words for m in members if m.title_words),
        ledes=tuple(m.lede_words for m in members if m.lede_words),
    )


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _best(words: frozenset[str], others: Sequence[frozenset[str]], least: int) -> float:
    """Best Jaccard against a member; a handful of words ("Read more") proves nothing."""
    if len(words) < least:
        return 0.0
    return max((_jaccard(words, o) for o in others if len(o) >= least), default=0.0)


def _shared(article: ArticleProfile, story: StoryProfile) -> tuple[float, list[tuple[str, str]]]:
    index = FigureIndex()
    for j, g in enumerate(story.figures):
        index.add(g, j)
    used: set[int] = set()
    evidence = 0.0
    pairs: list[tuple[str, str]] = []
    # heaviest figures first, so that a one-to-one assignment keeps the strongest pairs;
    # each takes the first story figure it matches that no heavier figure took
    for f in sorted(article.figures, key=lambda x: -x.weight):
        free = index.matching(f) - used
        if free:
            j = min(free)
            used.add(j)
            evidence += f.weight
            pairs.append((f.surface, story.figures[j].surface))
    return evidence, pairs


def _basis(
    article: ArticleProfile,
    story: StoryProfile,
    evidence: float,
    n_shared: int,
    n_terms: int,
    coverage: float,
    title_sim: float,
    lede_sim: float,
) -> str | None:
    a_ent, s_ent = article.main_entity, story.main_entity
    if a_ent is not None and s_ent is not None and a_ent != s_ent:
        if evidence >= CONFLICT_FACTS and coverage >= CONFLICT_COVERAGE:
            return "conflict-facts"
        return None
    anchored = a_ent is not None or s_ent is not None
    need = MIN_FACTS if anchored else MIN_FACTS + 1.0
    if evidence >= need and coverage >= MIN_COVERAGE:
        return "facts"
    if n_shared >= SHORT_SHARED and coverage >= SHORT_COVERAGE:
        return "short-facts"
    if anchored and n_terms >= MIN_TERMS and evidence >= TERM_FACTS:
        return "facts+terms"
    if (
        anchored
        and n_shared >= FEW_SHARED
        and coverage >= SHORT_COVERAGE
        and max(title_sim, lede_sim) >= FEW_TEXT_SIM
    ):
        return "facts+wording"
    # wording alone: only when the figures do not say otherwise (some are shared, or the
    # article states none)
    figures_agree = evidence > 0 or not article.figures
    if title_sim >= TITLE_SIM and figures_agree:
        return "title"
    if lede_sim >= LEDE_SIM and figures_agree:
        return "lede"
    return None


def compare(article: ArticleProfile, story: StoryProfile) -> StoryMatch | None:
    """The match of one article with one story, or None when they stay apart."""
    evidence, pairs = _shared(article, story)
    total = article.figure_weight
    coverage = evidence / total if total > 0 else 0.0
    terms = tuple(sorted(article.terms & story.terms))
    n_terms = sum(1 for t in terms if specific(t))
    title_sim = _best(article.title_words, story.titles, MIN_TITLE_WORDS)
    lede_sim = _best(article.lede_words, story.ledes, MIN_LEDE_WORDS)
    basis = _basis(article, story, evidence, len(pairs), n_terms, coverage, title_sim, lede_sim)
    if basis is None:
        return None
    topics = tuple(sorted(article.topics & story.topics))
    score = evidence + 0.5 * min(n_terms, 3) + 4.0 * max(title_sim, lede_sim)
    return StoryMatch(
        story_id=story.story_id,
        score=score,
        basis=basis,
        shared_facts=tuple(pairs),
        shared_terms=terms,
        shared_topics=topics,
        fact_evidence=evidence,
        coverage=coverage,
        title_similarity=title_sim,
        lede_similarity=lede_sim,
    )


# When several stories would take the article, the strongest kind of evidence wins, and
# the score only breaks ties within one kind: a story sharing three figures beats one
# sharing two figures and a few generic title words.
BASIS_RANK = {
    "facts": 6,
    "conflict-facts": 5,
    "short-facts": 4,
    "facts+terms": 3,
    "facts+wording": 2,
    "title": 1,
    "lede": 0,
}


def matching_stories(
    article: ArticleProfile, candidates: Sequence[StoryProfile]
) -> list[StoryMatch]:
    """Every story the article could join, the strongest evidence first."""
    found = [m for m in (compare(article, st) for st in candidates) if m is not None]
    return sorted(found, key=lambda m: (-BASIS_RANK[m.basis], -m.score, m.story_id))


def match_story(article: ArticleProfile, candidates: Sequence[StoryProfile]) -> StoryMatch | None:
    """The story the article belongs to, with the reasons; None for a new story."""
    found = matching_stories(article, candidates)
    return found[0] if found else None


# An article that restates the figures of two stories at once shows they are one story
# that arrived out of order (a feed lists newest first; a backfill spans weeks): the
# stories are merged when both matches rest on figures, not on wording alone.
BRIDGING = frozenset({"facts", "short-facts", "facts+terms", "conflict-facts"})
