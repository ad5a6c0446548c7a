"""Same-story level: other outlets and AI rewrites tell one event in other words. Pure.

Rewrites of one announcement sit near word-shingle Jaccard 0.1 (DESIGN.md section 8), so
no n-gram method joins them. What they keep is the substance: the company the headline is
about, the distinctive figures ("$53 billion", "RMB 280.2 billion", "16.86%"), the named
terms (model names with a version, "QwQ-32B"), and the content words of the title and
lede (:mod:`monitor.dedup.text_vector`). This module compares an article's
:class:`ArticleProfile` with the :class:`StoryProfile` of each candidate story and
explains its verdict.

The decision rule (issue 13, points 1 and 2):

* **One company per story.** A story belongs to the company its first article's headline
  is about (:func:`company_of`); an article about another company never joins it. An
  article naming no company joins only a story naming none.
* **Evidence against the story as a whole, never against one member.** The story keeps
  the sum of its members' text vectors (its centroid) and each figure and term with the
  number of members that state it. A figure counts by its distinctiveness
  (:func:`monitor.dedup.figures.fact_weight`: round numbers, whole percentages and dates
  count little or nothing) times the share of the story's members that state it, so a
  figure that one member of ten happened to mention cannot pull an article in: no
  chaining from member to member.
* **Combined evidence.** With ``C`` the cosine of the article's vector with the centroid,
  ``F`` the figure evidence and ``T`` the shared versioned terms, the article joins on
  ``text`` (C >= ``TEXT_ALONE``), ``text+facts`` (C >= ``TEXT_WITH`` and F >=
  ``FACTS_WITH``), ``text+terms`` (C >= ``TEXT_WITH`` and T >= 1), or ``facts`` (F >=
  ``FACTS_ALONE`` covering ``MIN_COVERAGE`` of the article's own figure weight, with C >=
  ``TEXT_FLOOR``). Weak evidence alone (a whole percentage, a round number, a date, the
  shared boilerplate that the corpus frequencies weigh down) reaches none of these.
* **Time.** Beyond ``CLOSE_DAYS`` from the story's span, every text threshold rises
  (``DRIFT_PER_DAY``): the further apart in time, the more alike two tellings must be.
* When several stories qualify, the highest score wins. An article that meets two stories
  suggests they are one; the application merges them only when the two stories also meet
  each other as wholes (:func:`stories_agree`): one article never merges on its own.

Restatements of a standing story (point 3) are decided in
:mod:`monitor.dedup.restatement`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.dedup import text_vector
from monitor.dedup.figures import (
    ABS_TOLERANCE_PCT,
    REL_TOLERANCE,
    TWIN_GAP,
    Figure,
    FigureIndex,
    changed,
    fact_weight,
    figures_of,
    significant_digits,
    union_figures,
)
from monitor.dedup.text_vector import Vector
from monitor.values import Extraction

__all__ = [
    "ABS_TOLERANCE_PCT",
    "REL_TOLERANCE",
    "TWIN_GAP",
    "ArticleProfile",
    "Figure",
    "StoryMatch",
    "StoryProfile",
    "company_of",
    "compare",
    "fact_weight",
    "matching_stories",
    "profile",
    "union_figures",
]

TEXT_ALONE = 0.22  # cosine of title, lede and names with the story's centroid, alone
TEXT_WITH = 0.10  # ... with a distinctive shared figure or a shared versioned term
STORIES_TEXT = 0.33  # two stories' centroids, to merge on words
TEXT_BRIDGE = 0.16  # an article that meets two stories, to merge them, meets each so
MIN_TERMS = 2.0  # shared versioned names, or one that the article's title gives
TEXT_STANDING = 0.20
FACTS_WITH = 0.9  # a distinctive figure the story stands on ("$53 billion": 1.0) ...
TEXT_PER_FACT = 0.04  # ... each unit of which stands in for this much cosine
FACTS_ALONE = 2.0  # two or more distinctive figures ...
MIN_COVERAGE = 0.4  # ... that are a good part of the article's own figure weight
TEXT_FLOOR = 0.05  # ... and some words in common
CLOSE_DAYS = 2.0  # within this many days of the story, time says nothing against it
DRIFT_PER_DAY = 0.08  # beyond, each day raises the text thresholds by this share
LEAD_BOTH = 2.0  # a figure both the article and the story lead with counts twice
SUPPORT_FULL = 0.5  # a figure or term stated by this share of the members counts fully
LEDE_CHARS = 400  # figures stated this early in the body are the article's headline ones

# bounds on what one story keeps (issue 13, point 1: the work per placement is bounded)
MAX_FIGURES = 60
MAX_TERMS = 40
MAX_LEAD = 12
# Below TEXT_FLOOR a story is rejected before its figures are weighed (``words_meet``):
# no basis may ask less.
assert TEXT_FLOOR <= TEXT_WITH <= TEXT_ALONE


@dataclass(frozen=True, slots=True)
class ArticleProfile:
    company: str | None
    figures: tuple[Figure, ...]
    terms: frozenset[str]  # versioned names, lower-cased: "qwq-32b", "ernie x1"
    topics: frozenset[str]
    counts: Mapping[str, float]  # weighted words of title, lede and names
    lead_terms: frozenset[str] = frozenset()  # the versioned names its title gives
    vector: Vector = field(default_factory=dict)  # TF-IDF, set with the corpus frequencies
    # figures heaviest first, sorted once per profile (``by_weight``), as the index cell
    # of a StoryProfile: a replaced profile sorts its own
    order_cell: list[tuple[Figure, ...]] = field(
        default_factory=list, init=False, compare=False, repr=False
    )

    @property
    def figure_weight(self) -> float:
        return sum(f.weight for f in self.figures)


def by_weight(article: ArticleProfile) -> tuple[Figure, ...]:
    """The article's figures, heaviest first (the order evidence is matched in)."""
    if not article.order_cell:
        article.order_cell.append(tuple(sorted(article.figures, key=lambda x: -x.weight)))
    return article.order_cell[0]


@dataclass(frozen=True, slots=True)
class StoryProfile:
    """What a story stands on: its members' figures and terms with how many members state
    each, and the sum of their text vectors."""

    story_id: int
    company: str | None
    members: int  # members counted into the profile (copies and restatements are not)
    figures: tuple[tuple[Figure, int], ...] = ()
    terms: Mapping[str, int] = field(default_factory=dict)
    centroid: Vector = field(default_factory=dict)
    topics: frozenset[str] = frozenset()
    lead_terms: Mapping[str, int] = field(default_factory=dict)  # named in a headline
    # the figures indexed for lookups, built once per profile (``figure_index``); not an
    # argument, so ``dataclasses.replace`` gives a changed profile an index of its own
    index_cell: list[FigureIndex] = field(
        default_factory=list, init=False, compare=False, repr=False
    )


def figure_index(story: StoryProfile) -> FigureIndex:
    """The story's figures by unit, currency and magnitude, by position in ``figures``.
    Built on first use and kept with the profile: one profile is compared with every
    article of its company while it stays unchanged."""
    if not story.index_cell:
        index = FigureIndex()
        for j, (g, _) in enumerate(story.figures):
            index.add(g, j)
        story.index_cell.append(index)
    return story.index_cell[0]


@dataclass(frozen=True, slots=True)
class StoryMatch:
    story_id: int
    score: float
    basis: str  # text | text+facts | text+terms | facts | restatement
    shared_facts: tuple[tuple[str, str], ...]  # (article surface, story surface)
    shared_terms: tuple[str, ...]
    shared_words: tuple[str, ...]
    text_similarity: float
    fact_evidence: float
    coverage: float
    days_apart: float
    event_evidence: float = 0.0  # of the figures that are not standing ones

    def reason(self) -> dict[str, Any]:
        """JSON-ready: why the article joined the story."""
        return {
            "level": "restatement" if self.basis == "restatement" else "story",
            "basis": self.basis,
            "score": round(self.score, 3),
            "text_similarity": round(self.text_similarity, 3),
            "shared_words": list(self.shared_words),
            "shared_facts": [list(p) for p in self.shared_facts],
            "shared_terms": list(self.shared_terms),
            "fact_evidence": round(self.fact_evidence, 2),
            "coverage": round(self.coverage, 2),
            "days_apart": round(self.days_apart, 1),
        }


def company_of(extraction: Extraction) -> str | None:
    """Whom the article is about: the first company its title names, else the one the
    extractor found to be its main entity."""
    if extraction.title_entities:
        return extraction.title_entities[0]
    return extraction.main_entity


def specific(term: str) -> bool:
    """A versioned name (QwQ-32B, ERNIE X1, GPT-4o) marks one release; a bare family name
    does not."""
    return any(c.isdigit() for c in term)


def lede_end(text: str) -> int:
    """Where the article's headline part of the body ends, as a character offset: the
    first ``LEDE_CHARS`` characters after the leading lines of chrome."""
    head = text_vector.lede(text, 10)
    at = text.find(head[:40]) if head else 0
    return max(0, at) + LEDE_CHARS


def profile(title: str, text: str, extraction: Extraction) -> ArticleProfile:
    """What the article brings to the comparison, before its vector and figures are
    weighed against the corpus (:func:`weighed`)."""
    company = company_of(extraction)
    terms = frozenset(t.term.lower() for t in extraction.terms if specific(t.term))
    # The company is required of every candidate story: its name says nothing more, and
    # would make any two articles about it look alike. Other companies named are telling.
    others = [e for e in extraction.entities[:4] if e != company][:3]
    counts = text_vector.term_counts(title, text, [*sorted(terms), *others])
    for w in {company or "", *(w for n in extraction.company_names for w in text_vector.words(n))}:
        counts.pop(w, None)
    end = lede_end(text)
    folded = f" {title.lower()} "
    # A name with a number that the title gives and the lede writes as a name too
    # ("Helix 3"): a release the vocabulary does not know. Title case capitalises every
    # word ("Opens 3 Sites"); the lede's sentences do not.
    released = text_vector.named_numbers(title)
    if released:
        released = [n for n in text_vector.named_numbers(text_vector.lede(text)) if n in released]
    named = frozenset(n.replace("_", " ") for n in released)
    own = {company or "", *(n.lower() for n in extraction.company_names)} - {""}
    lead_terms = named | frozenset(
        t.term.lower()
        for t in extraction.terms
        if specific(t.term) and t.term.lower() in folded and _of(folded, t.term.lower(), own)
    )
    return ArticleProfile(
        company=company,
        figures=figures_of(extraction.facts, lead_end=end, title=title),
        terms=terms | named,
        topics=frozenset(t.topic for t in extraction.topics),
        counts=counts,
        lead_terms=lead_terms,
    )


def _of(title: str, term: str, own: set[str]) -> bool:
    """Whether the title gives ``term`` as the article's company's release: not after
    another's possessive ("matches OpenAI's o1" in a headline about Tencent's model)."""
    at = title.find(f" {term}")
    if at < 0:  # after a bracket or a quote mark, not after a possessive
        return True
    before = title[max(0, at - 40) : at].rstrip()
    if not before.endswith(("'s", "’s")):
        return True
    owner = before[:-2]
    return any(owner.endswith(name) for name in own)


def figure_token(f: Figure) -> str:
    """The word that counts how many stories state a figure, in ``story_df``."""
    return f"#{f.unit}:{f.currency or ''}:{abs(f.value):.3g}"


STORIES = "#"  # the word that counts the stories
COMMON_FIGURE_STORIES = 3  # a figure stated by this many stories or more ...
COMMON_FIGURE_SHARE = 0.005  # ... and by this share of all stories is boilerplate


def common_figure(stories_with: int, stories: int) -> bool:
    """A figure that many stories state ("trained on 32 billion parameters" in every
    author box) is part of the page, not of the event."""
    return stories_with >= max(COMMON_FIGURE_STORIES, COMMON_FIGURE_SHARE * stories)


def weighed(article: ArticleProfile, df: Mapping[str, int], docs: int) -> ArticleProfile:
    """The article with its TF-IDF vector, and with the figures that many stories state
    weighing nothing."""
    stories = df.get(STORIES, 0)
    figures = tuple(
        changed(f, weight=0.0) if common_figure(df.get(figure_token(f), 0), stories) else f
        for f in article.figures
    )
    return dataclasses.replace(
        article, figures=figures, vector=text_vector.vector(article.counts, df, docs)
    )


# ----------------------------------------------------------------------------- evidence


def _support(count: int, members: int) -> float:
    return min(1.0, count / max(1.0, members * SUPPORT_FULL))


def _standing(f: Figure) -> bool:
    """A plan or a share: a figure the vocabulary tracks that is not one period's result.
    Articles about other events restate it for months as background."""
    return f.metric is not None and f.standing and f.unit in ("money", "percent")


def shared_figures(
    article: ArticleProfile, story: StoryProfile
) -> tuple[float, float, list[tuple[str, str]]]:
    """Figure evidence against the story as a whole: each of the article's figures that
    the story states counts its distinctiveness times the share of members stating it,
    twice when both lead with it (one-to-one, heaviest first). Returned apart: the
    evidence of standing figures (:func:`_standing`), and of the others."""
    index = figure_index(story)
    used: set[int] = set()
    event = standing = 0.0
    pairs: list[tuple[str, str]] = []
    for f in by_weight(article):
        free = index.matching(f) - used
        if not free:
            continue
        j = max(free, key=lambda k: (story.figures[k][1], -k))
        used.add(j)
        g, count = story.figures[j]
        # the headline figure of both: the event each of them leads with
        both_lead = LEAD_BOTH if f.lead and g.lead else 1.0
        weight = min(f.weight, g.weight) * both_lead * _support(count, story.members)
        if _standing(f) or _standing(g):  # what either side knows the figure to be
            standing += weight
        else:
            event += weight
        pairs.append((f.surface, g.surface))
    return event, standing, pairs


def shared_terms(article: ArticleProfile, story: StoryProfile) -> tuple[float, tuple[str, ...]]:
    names = tuple(sorted(t for t in article.terms if t in story.terms))
    return sum(_support(story.terms[t], story.members) for t in names), names


def contradicts(article: ArticleProfile, story: StoryProfile) -> bool:
    """The article's distinctive headline figures, and its headline sums of money however
    round, are none of the story's, while the story leads with distinctive figures of its
    own: two events ("revenue of $12.4 billion" and "revenue of $13.1 billion" are two
    quarters, "a $3.0bn deal" and "a $17.4 billion data centre" two plans, however alike
    the words)."""
    mine = [f for f in article.figures if f.lead and (f.weight >= 0.5 or _round_amount(f))]
    if not mine or not _lead_figures(story):
        return False
    index = figure_index(story)
    return not any(index.matching(f) or _rounded_from(f, story) for f in mine)


def _round_amount(f: Figure) -> bool:
    """A round sum of money ("$3.0bn"): little evidence that two articles tell one event,
    but a headline's sum all the same, that another event's sum is not (a share price is
    no sum; a figure many stories state weighs nothing)."""
    return f.unit == "money" and f.weight > 0 and abs(f.value) >= 1e6


def _rounded_from(f: Figure, story: StoryProfile) -> bool:
    """A round sum that one of the story's sums gives, rounded to one digit ("$50
    billion" for "$53 billion")."""
    if not _round_amount(f) or significant_digits(f.value) > 1:
        return False
    for g, _ in story.figures:
        if g.unit != "money":
            continue
        for cur, v in ((g.currency, g.value), (g.alt_currency, g.alt_value)):
            if v is not None and cur == f.currency and float(f"{abs(v):.0e}") == abs(f.value):
                return True
    return False


def other_release(article: ArticleProfile, story: StoryProfile) -> bool:
    """The article's title names versioned names the story never mentions: another
    release (Qwen3-Omni after Qwen3-Max), however alike the words around them."""
    return bool(article.lead_terms) and not any(
        _one_name(t, u) for t in article.lead_terms for u in story.terms
    )


def _one_name(a: str, b: str) -> bool:
    """Two spellings of one release, or one of them the family of the other: "Qwen 2.5"
    and "Qwen2.5-Max" (outlets space and suffix a name as they please)."""
    if a == b:
        return True
    a, b = _squashed(a), _squashed(b)
    return a.startswith(b) or b.startswith(a)


def _squashed(name: str) -> str:
    return name.replace(" ", "").replace("-", "").replace("_", "")


def drift(days_apart: float) -> float:
    """How much the text thresholds rise for an article this far from the story."""
    return 1.0 + DRIFT_PER_DAY * max(0.0, days_apart - CLOSE_DAYS)


def words_meet(article: ArticleProfile, centroid: Vector) -> bool:
    """Whether the article's words reach ``TEXT_FLOOR`` with a story's centroid: every
    basis of ``compare`` asks at least that much (TEXT_FLOOR <= TEXT_WITH * k <=
    TEXT_ALONE * k, as k >= 1). Most of a company's candidate stories fail it, and are
    rejected before their figures are decoded or weighed."""
    return text_vector.similarity(article.vector, centroid) >= TEXT_FLOOR


def compare(
    article: ArticleProfile, story: StoryProfile, days_apart: float = 0.0
) -> StoryMatch | None:
    """The match of one article with one story, or None when they stay apart."""
    if article.company != story.company:
        return None
    similarity = text_vector.similarity(article.vector, story.centroid)
    if similarity < TEXT_FLOOR:  # see ``words_meet``
        return None
    k = drift(days_apart)
    event, standing, pairs = shared_figures(article, story)
    # a standing figure shows the article is about the company's plan, not that it tells
    # the same event: it counts where the words or the event's own figures agree too
    agree = similarity >= TEXT_STANDING * k or event >= FACTS_WITH
    evidence = event + (standing if agree else 0.0)
    total = article.figure_weight
    coverage = min(1.0, evidence / total) if total > 0 else 0.0
    n_terms, names = shared_terms(article, story)
    # words alone cannot join what the figures tell apart
    release = other_release(article, story)
    apart = release or contradicts(article, story)
    basis = None
    if similarity >= TEXT_ALONE * k and not apart:
        basis = "text"
    elif (
        similarity >= TEXT_WITH * k
        and not release
        and evidence >= FACTS_WITH
        and similarity + TEXT_PER_FACT * min(evidence, 4.0) >= TEXT_ALONE * k
    ):
        basis = "text+facts"
    elif (
        similarity >= TEXT_WITH * k
        and not apart
        and (n_terms >= MIN_TERMS or any(t in story.lead_terms for t in article.lead_terms))
    ):
        # a company's flagship model is named in most of its stories: one shared name
        # counts when both the article's title and the story's give it
        basis = "text+terms"
    elif (
        evidence >= FACTS_ALONE * k
        and coverage >= MIN_COVERAGE
        and similarity >= TEXT_FLOOR
        and not release
    ):
        basis = "facts"
    if basis is None:
        return None
    score = similarity / k + 0.15 * min(evidence, 4.0) + 0.1 * min(n_terms, 2.0)
    return StoryMatch(
        story_id=story.story_id,
        score=score,
        basis=basis,
        shared_facts=tuple(pairs),
        shared_terms=names,
        shared_words=tuple(text_vector.shared_words(article.vector, story.centroid)),
        text_similarity=similarity,
        fact_evidence=evidence,
        coverage=coverage,
        days_apart=days_apart,
        event_evidence=event,
    )


def bridges(m: StoryMatch) -> bool:
    """Evidence enough for an article to show two stories are one: words that agree
    (``TEXT_BRIDGE``), or figures of the event itself (not standing ones) enough to join
    on them alone."""
    return m.text_similarity >= TEXT_BRIDGE or m.event_evidence >= FACTS_ALONE


def _lead_figures(p: StoryProfile) -> list[Figure]:
    return [g for g, n in p.figures if g.lead and g.weight >= 0.5 and _support(n, p.members) >= 1.0]


def _core_lead_terms(p: StoryProfile) -> set[str]:
    return {t for t, n in p.lead_terms.items() if _support(n, p.members) >= 1.0}


def _other_releases(a: StoryProfile, b: StoryProfile) -> bool:
    """Each story's titles name releases the other's titles never name."""
    ta, tb = _core_lead_terms(a), _core_lead_terms(b)
    return bool(ta) and bool(tb) and not any(_one_name(t, u) for t in ta for u in tb)


def stories_agree(a: StoryProfile, b: StoryProfile) -> bool:
    """Two stories are one when they are about one company and, as wholes, their words
    are closer than an article's must be to join on text alone, or they lead with the
    same distinctive figure of the same metric."""
    if a.company != b.company or _other_releases(a, b):
        return False
    if text_vector.cosine(a.centroid, b.centroid) >= STORIES_TEXT:
        return True
    theirs = _lead_figures(b)
    index = FigureIndex()
    for j, g in enumerate(theirs):
        index.add(g, j)
    # the same amount said of two things (a buyback, a deal) is two events
    return any(theirs[j].metric == f.metric for f in _lead_figures(a) for j in index.matching(f))


def matching_stories(
    article: ArticleProfile, candidates: Sequence[tuple[StoryProfile, float]]
) -> list[StoryMatch]:
    """Every story the article could join (with its distance in days), best first."""
    found = [m for m in (compare(article, st, d) for st, d in candidates) if m is not None]
    return sorted(found, key=lambda m: (-m.score, m.story_id))
