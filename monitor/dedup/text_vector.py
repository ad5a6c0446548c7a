"""A content signal that survives rewording: TF-IDF vectors of an article's title, lede and
named terms, and the centroid of a story's members. Pure.

Rewrites of one event by other outlets share few word sequences (DESIGN.md section 8) but
many of the same content words: the company, the product, the place, the verb of the
event ("ban", "launch", "rescind"). Weighted by how rare each word is in the stored corpus
(document frequencies kept by the store, ``monitor.store.story_df``), those words make two
tellings of one event close, while the sentences every AI-written article shares
("investors will look to the next quarterly report") weigh almost nothing once a few dozen
articles have been seen.

The words come from the title (counted twice: it names the event), the lede (the first
sentences of the body: the event, before the commentary) and the named terms and
companies (model names such as "qwq-32b" and entity ids, kept whole). Numbers are left
out: figures are compared by value (``monitor.dedup.figures``), where "$52 billion"
meets "$53 billion".
"""

from __future__ import annotations

import functools
import heapq
import math
import re
from collections.abc import Iterable, Mapping

from monitor.dedup.normalize import normalise

VECTOR_TERMS = 48  # an article's vector keeps its heaviest words
CENTROID_TERMS = 80  # ... and a story's centroid
LEDE_WORDS = 80  # words of the body read as the lede
TITLE_WEIGHT = 2.0
NAMED_WEIGHT = 2.0
# A prior of this many documents in which every word is half as common as it can be:
# until the corpus has some size, rare and common words weigh about the same, so a few
# first articles sharing a boilerplate sentence do not look like one story.
PRIOR_DOCS = 20.0
# The inverse document frequency is squared: a word used by one article in a thousand
# weighs far more than one used by one in ten (a company's name in a corpus of a few
# companies, a title's stock phrase), so two tellings of one event meet on its own words,
# not on the words of every such article.
# The length of a vector made of a few informative words: an article with less is shorter
# than a unit vector (see ``vector``).
MIN_NORM = 4.0
# A word in more than this share of the articles (and more than a few of them) is the
# language of every article, not of one event: it is left out.
COMMON_SHARE = 0.2
COMMON_MIN_DOCS = 20
MIN_LINE_WORDS = 6  # shorter leading lines are chrome ("AInvest Newsletter"), not a lede

# Function words and the vocabulary of every market article: they tell nothing about
# which event an article reports. The corpus frequencies would learn most of these; the
# list spares the first articles a store starts with.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers him his how i if in into is it its
    itself just me more most my new no nor not now of off on once only or other our out over
    own same she should so some such than that the their them then there these they this
    those through to too under until up very was we were what when where which while who
    whom why will with would you your s t vs billion million trillion thousand bn rmb yuan
    usd percent per cent year years quarter quarters month months week weeks day days
    today yesterday monday tuesday wednesday thursday friday saturday sunday january
    february march april may june july august september october november december jan feb
    mar apr jun jul aug sep sept oct nov dec said says say according company companies
    inc ltd corp group news report reports reported""".split()  # noqa: SIM905
)

Vector = dict[str, float]


def _stem(w: str) -> str:
    # A light stemmer: "launches", "launched" and "launching" meet "launch"; enough for
    # matching two tellings of one headline, and cheap.
    if len(w) > 5 and w.endswith("ing"):
        return w[:-3]
    if len(w) > 4 and w.endswith("ed"):
        return w[:-2]
    if len(w) > 4 and w.endswith("es") and w[-3] in "sxz":
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


# A name with a number is one name: "Helix 17", "Pangu 5.5", "Windows 12". Not a date
# ("March 5"), and only after a capitalised word, which a figure's words rarely are.
_NAMED_NUMBER = re.compile(r"\b([A-Z][A-Za-z]{2,})[ -]([0-9]{1,3}(?:\.[0-9])?)\b(?![.,]?[0-9%])")
_MONTHS = (
    "january february march april may june july august september october november december"
    " jan feb mar apr jun jul aug sep sept oct nov dec q1 q2 q3 q4 fy"
)
_MONTH_WORDS = frozenset(_MONTHS.split())


def named_numbers(text: str) -> list[str]:
    """Names that carry a number, as one word each: "helix_17"."""
    out = []
    for m in _NAMED_NUMBER.finditer(text):
        name = m.group(1).lower()
        if name in _MONTH_WORDS or name in STOPWORDS:
            continue
        out.append(f"{name}_{m.group(2)}")
    return out


@functools.lru_cache(maxsize=200_000)
def _token(w: str) -> str:
    """The word as compared, or "" for one that is not compared. Cached: the words of
    news repeat, and this runs for every word of every title and lede."""
    if len(w) < 2 or w in STOPWORDS or w.isdigit():
        return ""
    if not w.isalpha() and not any(c.isalpha() for c in w):
        return ""
    return _stem(w)


def words(text: str) -> list[str]:
    """Content words of ``text``, stemmed: no function words, no bare numbers. Words with
    digits and letters ("b30a", "910c", "h20") are names and stay."""
    return [t for t in map(_token, normalise(text).split()) if t]


def lede(text: str, n: int = LEDE_WORDS) -> str:
    """The first ``n`` words of the body, after leading lines too short to be prose."""
    start = len(text) - len(text.lstrip())
    # line by line from the top, without splitting the whole article
    while True:
        end = text.find("\n", start)
        if end < 0 or len(text[start:end].split(None, MIN_LINE_WORDS)) >= MIN_LINE_WORDS:
            break
        start = end + 1
    # a word is rarely longer than 30 characters: read no more of the text than needed
    head = text[start : start + 30 * n]
    return " ".join(head.split(None, n)[:n])


def term_counts(
    title: str, text: str, named: Iterable[str] = (), *, lede_text: str | None = None
) -> dict[str, float]:
    """Weighted occurrences of each word: title words twice, lede words once, named terms
    and companies (kept whole, marked with "=") twice."""
    counts: dict[str, float] = {}
    body = lede(text) if lede_text is None else lede_text
    for w in [*words(title), *named_numbers(title)]:
        counts[w] = counts.get(w, 0.0) + TITLE_WEIGHT
    for w in [*words(body), *named_numbers(body)]:
        counts[w] = counts.get(w, 0.0) + 1.0
    for name in named:
        key = "=" + name.lower()
        counts[key] = max(counts.get(key, 0.0), NAMED_WEIGHT)
    return counts


_LOG: dict[float, float] = {}  # log of the small numbers counts and frequencies take


def _log(x: float) -> float:
    got = _LOG.get(x)
    if got is None:
        got = math.log(x)
        if len(_LOG) < 100_000:
            _LOG[x] = got
    return got


def idf(df: int, docs: int) -> float:
    """Smoothed inverse document frequency with a prior (``PRIOR_DOCS``), squared."""
    x = _log(docs + PRIOR_DOCS) - _log(df + PRIOR_DOCS / 2.0)
    return x * x


def vector(counts: Mapping[str, float], df: Mapping[str, int], docs: int) -> Vector:
    """The TF-IDF vector of the heaviest ``VECTOR_TERMS`` words (log-scaled counts), of
    unit length, or shorter for an article whose words are all common ones: divided by
    ``MIN_NORM`` where its own length is less. Boilerplate alone then resembles nothing,
    however alike two such articles are."""
    common = max(COMMON_MIN_DOCS, COMMON_SHARE * docs)
    top = _log(docs + PRIOR_DOCS)
    half = PRIOR_DOCS / 2.0
    log, get = _LOG.get, df.get
    weighted: list[tuple[float, str]] = []
    for w, c in counts.items():
        n = get(w, 0)
        if n > common or c <= 0:
            continue
        x = top - (log(n + half) or _log(n + half))
        weighted.append(((1.0 + (log(c) or _log(c))) * x * x, w))
    if len(weighted) > VECTOR_TERMS:
        weighted = heapq.nlargest(VECTOR_TERMS, weighted)
    norm = max(math.sqrt(math.fsum(v * v for v, _ in weighted)), MIN_NORM)
    return {w: v / norm for v, w in weighted if v > 0}


def _rounded(x: float) -> float:
    # five decimals, as stored; int() of a positive number is far cheaper than round()
    return int(x * 100000.0 + 0.5) / 100000.0


def add_to_centroid(centroid: Mapping[str, float], v: Mapping[str, float]) -> Vector:
    """The sum of a story's member vectors, cut to its ``CENTROID_TERMS`` heaviest words:
    a word many members use weighs more than one a single member brought."""
    out = dict(centroid)
    for w, x in v.items():
        out[w] = out.get(w, 0.0) + x
    if len(out) > CENTROID_TERMS:
        out = dict(heapq.nlargest(CENTROID_TERMS, out.items(), key=lambda kv: (kv[1], kv[0])))
    return {w: _rounded(x) for w, x in out.items()}


def similarity(article: Mapping[str, float], centroid: Mapping[str, float]) -> float:
    """How far the article's vector reaches in the direction of a story's centroid: the
    cosine for an article of unit length, less for one made of common words."""
    if not article or not centroid:
        return 0.0
    dot = math.fsum(x * centroid.get(w, 0.0) for w, x in article.items())
    if dot <= 0.0:
        return 0.0
    # fsum: the same value whatever the order of the words (a profile read back from the
    # store lists them sorted)
    return dot / math.sqrt(math.fsum(x * x for x in centroid.values()))


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine of two sparse vectors (``a`` need not be a unit vector)."""
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(x * b.get(w, 0.0) for w, x in a.items())
    if dot <= 0.0:
        return 0.0
    na = math.sqrt(sum(x * x for x in a.values()))
    nb = math.sqrt(sum(x * x for x in b.values()))
    return dot / (na * nb)


def shared_words(a: Mapping[str, float], b: Mapping[str, float], n: int = 6) -> list[str]:
    """The words that contribute most to the cosine of ``a`` and ``b``, for explaining."""
    common = [(a[w] * b[w], w) for w in a.keys() & b.keys()]
    return [w.lstrip("=") for _, w in sorted(common, reverse=True)[:n]]
