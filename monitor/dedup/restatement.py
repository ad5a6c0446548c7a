"""Restatements of a standing story: a figure that stands for months, told again. Pure.

A three-year investment plan or a stated market share stays true long after the week it
was announced, and AI-written market commentary restates it for months ("With its $53
billion three-year AI plan, Alibaba ..."). Such an article is not a new story, and it is
not news either: it is linked to the story that announced the figure (join level
``restatement``), adds nothing to what that story stands on, and the digest shows it as
"restated by N more articles, nothing new" (issue 13, point 3).

An article restates a standing story when, after the story's own window:

* it is about the story's company;
* the figures of its headline (its title and lede, ``Figure.lead``) that are distinctive
  (``MIN_WEIGHT``: not a round number, a whole percentage or a date) are all figures the
  story stands on, and at least one of them is a standing one (not the result of one
  quarter, month or day: those are old news, not a standing figure);
* the figure is the same as written (:func:`same_as_written`), the story gave it as one
  metric the vocabulary tracks (a plan, a share: an amount no metric names is a one-off,
  a deal's value or a site's cost) and the article as the same metric, or as an amount
  over years ("over the next three years") that it names no metric for; and the story
  stated it in its own headlines and in most of its members;
* and its words are not foreign to the story (``MIN_TEXT``).

A new event of the same company brings a figure of its own into its headline (a quarter's
results, a plan raised from RMB 380 billion to RMB 480 billion): it is not a
restatement, it starts a story of its own, and the rules see its new figure.
"""

from __future__ import annotations

import re

from monitor.dedup import text_vector
from monitor.dedup.figures import Figure, FigureIndex, significant_digits
from monitor.dedup.story import ArticleProfile, StoryMatch, StoryProfile

MIN_WEIGHT = 0.5  # distinctive: a figure with two or more significant digits, a decimal
MIN_TEXT = 0.02  # cosine with the story's centroid: the article shares some of its words
STANDING_SUPPORT = 0.5  # the share of the story's members stating the figure
STANDING_UNITS = frozenset({"money", "percent"})  # plans and budgets; shares


def _rounded(v: float, digits: int) -> float:
    return float(f"{abs(v):.{max(1, digits)}g}")


_NUMBER = re.compile(r"[0-9][0-9,]*(?:\.[0-9]+)?")


def written_digits(surface: str, value: float) -> int:
    """Significant digits as written: "RMB8.0 billion" has two, "$380 billion" two, "$53
    billion" two; the value's own digits when the surface shows no number."""
    m = _NUMBER.search(surface)
    if m is None:
        return significant_digits(value)
    digits = m.group().replace(",", "")
    whole, _, frac = digits.partition(".")
    if frac:
        return len((whole + frac).lstrip("0")) or 1
    return len(whole.lstrip("0").rstrip("0")) or 1


def same_as_written(f: Figure, g: Figure) -> bool:
    """The same figure as written, at the coarser of the two precisions: "$53 billion"
    restates "$52.7 billion", "RMB 32.3 billion" does not restate "RMB 31.8 billion".
    Amounts are compared in a currency both give."""
    mine = [(f.currency, f.value, written_digits(f.surface, f.value))]
    theirs = [(g.currency, g.value, written_digits(g.surface, g.value))]
    # A conversion is rounded coarsely ("about $1.4 billion"): it is compared only when
    # the two are not given in one currency.
    if f.currency != g.currency:
        if f.alt_value is not None:
            mine.append((f.alt_currency, f.alt_value, significant_digits(f.alt_value)))
        if g.alt_value is not None:
            theirs.append((g.alt_currency, g.alt_value, significant_digits(g.alt_value)))
    for c1, v1, d1 in mine:
        for c2, v2, d2 in theirs:
            if c1 != c2:
                continue
            digits = min(d1, d2)
            if _rounded(v1, digits) == _rounded(v2, digits):
                return True
    return False


_YEARS = re.compile(r"\byears?\b|-year\b", re.IGNORECASE)


def _over_years(period: str | None) -> bool:
    """A horizon of years ("next 3 years", "three-year"): what a plan states."""
    return period is not None and _YEARS.search(period) is not None


def headline_figures(article: ArticleProfile) -> list[int]:
    """Positions of the article's distinctive headline figures."""
    return [i for i, f in enumerate(article.figures) if f.lead and f.weight >= MIN_WEIGHT]


def restates(article: ArticleProfile, story: StoryProfile, days_after: float) -> StoryMatch | None:
    """The restatement link of ``article`` to ``story``, or None."""
    if article.company != story.company or article.company is None:
        return None
    heads = headline_figures(article)
    if not heads:
        return None
    index = FigureIndex()
    for j, (g, _) in enumerate(story.figures):
        index.add(g, j)
    pairs: list[tuple[str, str]] = []
    standing = False
    for i in heads:
        f = article.figures[i]
        found = [k for k in index.matching(f) if same_as_written(f, story.figures[k][0])]
        if not found:
            return None  # the headline brings a figure of its own: a new event
        g, count = story.figures[max(found, key=lambda k: story.figures[k][1])]
        pairs.append((f.surface, g.surface))
        if f.metric != g.metric and not (f.metric is None and _over_years(f.period)):
            return None  # the same amount, said of another thing (or of nothing known)
        if (
            g.metric is not None
            and f.unit in STANDING_UNITS
            and g.standing
            and f.standing
            and g.lead
            and count >= STANDING_SUPPORT * story.members
        ):
            standing = True
    if not standing:
        return None
    similarity = text_vector.similarity(article.vector, story.centroid)
    if similarity < MIN_TEXT:
        return None
    return StoryMatch(
        story_id=story.story_id,
        score=similarity + len(pairs),
        basis="restatement",
        shared_facts=tuple(pairs),
        shared_terms=(),
        shared_words=tuple(text_vector.shared_words(article.vector, story.centroid)),
        text_similarity=similarity,
        fact_evidence=float(len(pairs)),
        coverage=1.0,
        days_apart=days_after,
    )
