"""The same-story index: which stories to compare a new article with, and their profiles.

Two things are kept as members join (issue 4, point 3, at the volume of hundreds of
stories about one company within the window):

* ``story_key``: one row per figure an article of the story states (and per amount in a
  second currency), indexed by unit and value. Every same-story basis but ``title`` and
  ``lede`` needs a shared figure, and those two need one too when the article states any
  (``monitor.dedup.story``), so an article with figures is compared only with the stories
  that hold a figure within the matcher's tolerance of one of its own.
* ``story.members`` / ``story.profile``: the profiles of the story's newest
  ``MAX_MEMBERS_PROFILED`` original members (copies restate their original) and their
  union, which is what the matcher compares with. They are the profiles the members'
  stored facts and mentions give, so a story reads the same as if rebuilt from its rows
  (which is what :func:`build_profiles` does for stories stored before this index).

An article without figures can only join on a very similar title or lede; it is compared,
as before the index, with the ``MAX_STORY_CANDIDATES`` most recent stories of its main
entity, reading their stored profiles.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from monitor.dedup import story, story_codec
from monitor.models import Article
from monitor.models import Story as StoryRow
from monitor.store.clean_text import safe
from monitor.store.dedup_index import PlainSql
from monitor.values import Extraction, Fact, TermHit, TopicHit

MAX_STORY_CANDIDATES = 100  # most recent stories compared per article
MAX_MEMBERS_PROFILED = 30  # newest members whose titles and ledes represent a story
LEDE_CHARS = 800  # enough text for LEDE_WORDS words
# Widest gap at which two amounts can still match (monitor.dedup.story._close):
# |a - b| <= REL_TOLERANCE * max(a, b) allows b up to a / (1 - REL_TOLERANCE); a little
# more is looked up, the matcher decides.
_REACH = story.REL_TOLERANCE / (1.0 - story.REL_TOLERANCE) + 1e-6
_PERCENT_UNITS = frozenset({"percent", "pp", "growth"})
_FIGURES_PER_QUERY = 50
_BACKFILL_CHUNK = 200  # stories per step of the upgrade

ARTICLE: sa.Table = Article.__table__  # type: ignore[attr-defined]
STORY: sa.Table = StoryRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Types:
    """SQLAlchemy's own conversions for the timestamp and JSON columns, for plain SQL."""

    ts_in: Callable[[Any], Any]
    ts_out: Callable[[Any], Any]
    json_in: Callable[[Any], Any]
    json_out: Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


@lru_cache(maxsize=8)
def types(dialect: Dialect) -> Types:
    ts = ARTICLE.c.sort_at.type.dialect_impl(dialect)
    js = ARTICLE.c.join_reason.type.dialect_impl(dialect)
    return Types(
        ts_in=ts.bind_processor(dialect) or _same,
        ts_out=ts.result_processor(dialect, None) or _same,
        json_in=js.bind_processor(dialect) or _same,
        json_out=js.result_processor(dialect, None) or _same,
    )


# ------------------------------------------------------------------------------ profiles


def _stored(extraction: Extraction) -> Extraction:
    """The extraction as its rows read back (monitor.store.articles.insert_extraction
    strips characters no database takes from surfaces, quotes and terms)."""
    facts = tuple(
        f if f.surface == safe(f.surface) and f.quote == safe(f.quote)
        else dataclasses.replace(f, surface=safe(f.surface), quote=safe(f.quote))
        for f in extraction.facts
    )  # fmt: skip
    terms = tuple(
        t if t.term == safe(t.term) else dataclasses.replace(t, term=safe(t.term))
        for t in extraction.terms
    )
    if all(a is b for a, b in zip(facts, extraction.facts, strict=True)) and all(
        a is b for a, b in zip(terms, extraction.terms, strict=True)
    ):
        return extraction
    return dataclasses.replace(extraction, facts=facts, terms=terms)


def member_profile(
    title: str, text: str, extraction: Extraction, article: story.ArticleProfile | None = None
) -> story.ArticleProfile:
    """The profile this article contributes to its story: the one its stored rows give,
    with the lede taken from the first ``LEDE_CHARS`` characters of its text.

    ``article`` (its profile for matching, from the same title, text and extraction) is
    reused where it is the same.
    """
    head = text[:LEDE_CHARS]
    stored = _stored(extraction)
    if article is None or stored is not extraction:
        return story.profile(title, head, stored)
    if head is text or story.lede(head) == story.lede(text):
        return article
    return dataclasses.replace(article, lede_words=story.content_words(story.lede(head)))


Members = list[list[Any]]  # [[article id, encoded member profile], ...], newest first


def with_member(members: Members | None, article_id: int, member: story.ArticleProfile) -> Members:
    out = [m for m in members or [] if int(m[0]) != article_id]
    out.append([article_id, story_codec.encode_article(member)])
    out.sort(key=lambda m: -int(m[0]))
    return out[:MAX_MEMBERS_PROFILED]


def merged_members(lists: Iterable[Members | None]) -> Members:
    out = [m for members in lists for m in members or []]
    out.sort(key=lambda m: -int(m[0]))
    return out[:MAX_MEMBERS_PROFILED]


def union(members: Members) -> dict[str, Any]:
    return story_codec.encode_story([story_codec.decode_article(m[1]) for m in members])


# ---------------------------------------------------------------------------------- keys


def fact_keys(facts: Sequence[Fact]) -> list[tuple[str, str, float, bool]]:
    """(unit, currency or "", value, second currency) of each figure that can count."""
    out: list[tuple[str, str, float, bool]] = []
    for f in facts:
        if story.fact_weight(f) <= 0.0:
            continue
        out.append((f.unit, f.currency or "", float(f.value), False))
        if f.alt_value is not None:
            out.append((f.unit, f.alt_currency or "", float(f.alt_value), True))
    return out


def add_keys(sql: PlainSql, story_id: int, article_id: int, facts: Sequence[Fact]) -> None:
    keys = fact_keys(facts)
    if not keys:
        return
    row = f"({sql.marks(6)})"
    sql.run(
        "INSERT INTO story_key (story_id, article_id, unit, currency, value, alt) VALUES "
        + ", ".join([row] * len(keys)),
        [v for k in keys for v in (story_id, article_id, *k)],
    )


def _ranges(figures: Sequence[story.Figure]) -> tuple[str, list[Any]]:
    """An SQL condition on ``k`` (story_key) true for every amount that may match one of
    the figures: same unit and currency, value within the matcher's tolerance of either
    sign (the matcher compares magnitudes)."""
    terms: list[str] = []
    params: list[Any] = []
    seen: set[tuple[str, str, float]] = set()
    for f in figures:
        pairs = [(f.currency, f.value)]
        if f.alt_value is not None:
            pairs.append((f.alt_currency, f.alt_value))
        for cur, v in pairs:
            a = abs(float(v))
            if (f.unit, cur or "", a) in seen:
                continue
            seen.add((f.unit, cur or "", a))
            reach = a * _REACH
            if f.unit in _PERCENT_UNITS:
                reach += story.ABS_TOLERANCE_PCT + 1e-6
            if a > reach:
                spans = [(a - reach, a + reach), (-a - reach, -a + reach)]
            else:
                spans = [(-a - reach, a + reach)]
            for lo, hi in spans:
                terms.append("(k.unit = %s AND k.currency = %s AND k.value BETWEEN %s AND %s)")
                params += [f.unit, cur or "", lo, hi]
    return " OR ".join(terms), params


_IN_WINDOW = "s.last_seen_at >= %s AND s.first_seen_at <= %s AND s.article_count > 0"
_OF_ENTITY = " AND (s.main_entity = %s OR s.main_entity IS NULL)"
_COLS = "s.id, s.main_entity, s.profile"


def candidates(
    sql: PlainSql,
    article: story.ArticleProfile,
    extraction: Extraction,
    at: datetime,
    window: timedelta,
) -> list[story.StoryProfile]:
    """The profiles of the stories in the window that the article could join."""
    t = types(sql.dialect)
    lo, hi = t.ts_in(at - window), t.ts_in(at + window)
    entity = extraction.main_entity
    ent_sql, ent_params = ("", []) if entity is None else (_OF_ENTITY, [entity])
    limit = MAX_STORY_CANDIDATES
    if article.figures:
        rows = []
        figures = article.figures
        # a statement per _FIGURES_PER_QUERY figures keeps far below SQLite's expression
        # depth and parameter limits for an article that lists hundreds of figures
        for start in range(0, len(figures), _FIGURES_PER_QUERY):
            cond, params = _ranges(figures[start : start + _FIGURES_PER_QUERY])
            rows += sql.rows(
                f"SELECT {_COLS}, s.last_seen_at FROM story s WHERE s.id IN (SELECT k.story_id"
                f" FROM story_key k WHERE {cond}) AND {_IN_WINDOW}{ent_sql}"
                f" ORDER BY s.last_seen_at DESC, s.id DESC LIMIT {limit}",
                [*params, lo, hi, *ent_params],
            )
        if len(figures) > _FIGURES_PER_QUERY:
            rows = sorted({r[0]: r for r in rows}.values(), key=lambda r: (r[3], r[0]))
            rows = rows[::-1][:limit]
    else:
        # wording alone can join it: the most recent stories of its entity, as ever
        rows = sql.rows(
            f"SELECT {_COLS} FROM story s WHERE {_IN_WINDOW}{ent_sql}"
            f" ORDER BY s.last_seen_at DESC, s.id DESC LIMIT {limit}",
            [lo, hi, *ent_params],
        )
    found: dict[int, tuple[str | None, Any]] = {int(r[0]): (r[1], r[2]) for r in rows}
    # Another main entity can still be the same story when many figures agree (an
    # extractor may pick another company as main in a market-wide rewrite): such stories
    # are found through the amounts of money the article states.
    amounts = sorted({f.value for f in extraction.facts if f.unit == "money"})
    if entity is not None and amounts:
        for r in sql.rows(
            f"SELECT {_COLS} FROM story s WHERE s.id IN (SELECT k.story_id FROM story_key k"
            f" WHERE k.unit = 'money' AND k.alt = %s AND k.value IN ({sql.marks(len(amounts))}))"
            f" AND {_IN_WINDOW} ORDER BY s.last_seen_at DESC, s.id DESC LIMIT {limit}",
            [False, *amounts, lo, hi],
        ):
            found.setdefault(int(r[0]), (r[1], r[2]))
    missing = [sid for sid, (_, prof) in found.items() if prof is None]
    built = build_profiles(sql, missing) if missing else {}
    out = []
    for sid, (ent, prof) in found.items():
        d = t.json_out(prof) if prof is not None else built.get(sid)
        if d is not None:  # a story without original members has an empty profile
            out.append(story_codec.decode_story(sid, ent, d))
    return out


# ------------------------------------------------------ stories stored before the index


def _head_rows(sql: PlainSql, sids: Sequence[int]) -> dict[int, list[Any]]:
    heads: dict[int, list[Any]] = {sid: [] for sid in sids}
    for aid, sid, title, text in sql.rows(
        f"SELECT id, story_id, title, SUBSTR(text, 1, {LEDE_CHARS}) FROM article"
        " WHERE duplicate_of IS NULL"
        f" AND story_id IN ({sql.marks(len(sids))}) ORDER BY id DESC",
        sids,
    ):
        group = heads[int(sid)]
        if len(group) < MAX_MEMBERS_PROFILED:
            group.append((int(aid), title or "", (text or "")[:LEDE_CHARS]))
    return heads


def build_profiles(sql: PlainSql, sids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Members and profile of stories that have none yet, from their articles' rows;
    stored, and returned by story id."""
    heads = _head_rows(sql, sids)
    aids = [h[0] for group in heads.values() for h in group]
    facts: dict[int, list[Fact]] = {}
    terms: dict[int, list[TermHit]] = {}
    topics: dict[int, list[TopicHit]] = {}
    for chunk in range(0, len(aids), 500):
        part = aids[chunk : chunk + 500]
        for r in sql.rows(
            "SELECT article_id, entity, metric, value, unit, currency, surface, quote,"
            " span_start, span_end, confidence, alt_value, alt_currency FROM fact"
            f" WHERE article_id IN ({sql.marks(len(part))}) ORDER BY id",
            part,
        ):
            facts.setdefault(int(r[0]), []).append(
                Fact(
                    entity=r[1], metric=r[2], value=r[3], unit=r[4], currency=r[5],
                    surface=r[6], quote=r[7], span=(r[8], r[9]), confidence=r[10],
                    alt_value=r[11], alt_currency=r[12],
                )
            )  # fmt: skip
        for aid, kind, name, value in sql.rows(
            "SELECT article_id, kind, name, value FROM mention"
            f" WHERE article_id IN ({sql.marks(len(part))}) ORDER BY id",
            part,
        ):
            if kind == "term":
                terms.setdefault(int(aid), []).append(TermHit(name, value, "", (0, 0)))
            elif kind == "topic":
                topics.setdefault(int(aid), []).append(TopicHit(name, value, "", (0, 0)))
    t = types(sql.dialect)
    out: dict[int, dict[str, Any]] = {}
    for sid, group in heads.items():
        members: Members = [
            [
                aid,
                story_codec.encode_article(
                    story.profile(
                        title,
                        head,
                        Extraction(
                            main_entity=None,
                            facts=tuple(facts.get(aid, ())),
                            terms=tuple(terms.get(aid, ())),
                            topics=tuple(topics.get(aid, ())),
                        ),
                    )
                ),
            ]
            for aid, title, head in group
        ]
        prof = union(members)
        sql.run(
            "UPDATE story SET profile = %s, members = %s WHERE id = %s",
            (t.json_in(prof), t.json_in(members), sid),
        )
        out[sid] = prof
    return out


def backfill(sql: PlainSql) -> int:
    """Keys, members and profiles for every story stored before the index existed."""
    sql.run("DELETE FROM story_key", ())
    sids = [int(r[0]) for r in sql.rows("SELECT id FROM story WHERE article_count > 0", ())]
    for start in range(0, len(sids), _BACKFILL_CHUNK):
        chunk = sids[start : start + _BACKFILL_CHUNK]
        by: dict[tuple[int, int], list[Fact]] = {}
        for sid, aid, unit, cur, value, alt_c, alt_v in sql.rows(
            "SELECT story_id, article_id, unit, currency, value, alt_currency, alt_value"
            f" FROM fact WHERE story_id IN ({sql.marks(len(chunk))}) ORDER BY id",
            chunk,
        ):
            by.setdefault((int(sid), int(aid)), []).append(
                Fact(None, None, value, unit, "", "", (0, 0), 1.0, cur, alt_value=alt_v,
                     alt_currency=alt_c)
            )  # fmt: skip
        for (sid, aid), fs in by.items():
            add_keys(sql, sid, aid, fs)
        build_profiles(sql, chunk)
    return len(sids)
