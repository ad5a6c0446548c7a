"""Placing each new article: exact copy, near-duplicate, or member of a story.

The batch flow (``monitor.app.batches``) inserts a poll's article rows and runs
extraction, then calls :func:`place_articles` and :func:`mark_batch_facts` for the whole
batch, all in one transaction, and finally inserts each article's facts with its
``story_id``. The decisions are the pure dedup stage's (``monitor.dedup``); the
rows are the store's (``monitor.store.story_rows``, ``story_index``, ``band_index``).

Story time is the news timeline: an article counts at its ``sort_at`` (published, clamped
to when it was first seen), so a story's window does not depend on when a batch was
ingested. ``now`` stands in for an article without one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlmodel import Session

from monitor.app.profile_cache import PROFILES
from monitor.dedup import (
    minhash,
    near,
    restatement,
    story,
    story_codec,
    story_members,
    text_vector,
)
from monitor.extract import organisations
from monitor.store import articles, db, story_df, story_index, story_rows
from monitor.store.band_index import BandIndex
from monitor.store.plain_sql import PlainSql
from monitor.values import Extraction, Fact

# Below this many words a text is a title or a teaser: equal teasers are not one article,
# so only the same-story level applies.
MIN_WORDS = 12
# How long after its event a story's standing figures can still be restated (issue 13,
# point 3); the setting MONITOR_SCHEDULE__RESTATEMENT_DAYS gives the pipeline's.
RESTATEMENT_REACH = timedelta(days=365)
MAX_MEMBERS_REBUILT = 30  # newest original members a rebuilt profile is made from
HEAD_CHARS = 2000  # text read per member for a rebuild: enough for title words and lede


@dataclass(frozen=True, slots=True)
class Placement:
    article_id: int
    story_id: int
    level: str  # new | exact | near-duplicate | story | restatement
    new_story: bool
    duplicate_of: int | None = None
    similarity: float | None = None
    reason: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Copy:
    """What the exact or near-duplicate level found: the article copies ``original``."""

    original: int
    similarity: float
    reason: dict[str, Any]


@dataclass(slots=True)
class _Pending:
    """An article of the batch on its way: what is known before its turn comes."""

    article_id: int
    extraction: Extraction
    title: str
    text: str
    at: datetime
    content_hash: str
    original: int | None  # earliest placed article with the same hash, before this batch
    recorded: Placement | None  # already placed before this call
    long: bool  # enough words for the exact and near levels
    sig: bytes | None = None  # written with the other dedup columns
    copy_of: Copy | None = None
    profile: story.ArticleProfile | None = None  # what the story level compares
    names: list[tuple[str, bool]] = dataclasses.field(default_factory=list)  # see _names


def place_article(
    session: Session,
    article_id: int,
    extraction: Extraction,
    *,
    now: datetime,
    window: timedelta,
    reach: timedelta = RESTATEMENT_REACH,
) -> Placement:
    """One article through :func:`place_articles`."""
    return place_articles(session, [(article_id, extraction)], now=now, window=window, reach=reach)[
        0
    ]


def place_articles(
    session: Session,
    items: Sequence[tuple[int, Extraction]],
    *,
    now: datetime,
    window: timedelta,
    reach: timedelta = RESTATEMENT_REACH,
) -> list[Placement]:
    """Exact, then near-duplicate, then same story (or a restatement of a standing story
    first told within ``reach``), for each article in order; writes the dedup columns,
    the band keys, the stories and the word frequencies.

    The result is the same as placing the articles one after another: a later article of
    the batch can be a copy of an earlier one. The story's profile and figure keys are
    taken from each article's extraction, which the caller stores with the article.
    Placing an article already placed changes nothing and returns the recorded placement.
    Workers sharing a PostgreSQL database place one batch at a time (``db.writer_turn``).
    """
    if not items:
        return []  # a poll that brought nothing new waits for no other worker
    # every read below must see the placements of other workers' batches
    db.writer_turn(session)
    sql = PlainSql(session)
    pending = _read(sql, items, now)
    # The copy levels need nothing from the story level, so they run first for the batch.
    _find_copies(sql, pending)
    for p in pending:
        if p.recorded is None and p.copy_of is None:
            stored = articles.as_stored(p.extraction)
            p.profile = story.profile(p.title, p.text, stored)
    df, docs = story_df.read(
        sql,
        [
            story.STORIES,
            *(w for p in pending if p.profile for w in p.profile.counts),
            *(story.figure_token(f) for p in pending if p.profile for f in p.profile.figures),
        ],
    )
    words = _Words(df, docs)
    for p in pending:
        if p.profile is not None:
            p.names = _names(p)  # once: read for the whole batch, then by its placement
    wanted = {n for p in pending for n, _ in p.names}
    words.companies.update(story_rows.companies_named(sql, sorted(wanted)))
    out: list[Placement] = []
    done: dict[int, Placement] = {}
    for p in pending:
        placed = p.recorded or done.get(p.article_id)
        if placed is None:
            placed = _place(sql, p, window, reach, words)
            done[p.article_id] = placed
            gone = set((placed.reason or {}).get("merged", ()))
            if gone:  # earlier articles of the batch moved with their stories
                out = [
                    dataclasses.replace(o, story_id=placed.story_id) if o.story_id in gone else o
                    for o in out
                ]
                done = {o.article_id: o for o in out} | {p.article_id: placed}
        out.append(placed)
    story_df.add(sql, words.added, words.added_docs)
    return out


def find_copies(session: Session, article_ids: Sequence[int]) -> dict[int, bytes | Copy | None]:
    """The exact and near-duplicate levels alone, for a batch of unplaced articles.

    Writes the band keys of the articles that are not exact copies, as
    :func:`place_articles` does, and returns each article's copy, or its signature (which
    :func:`place_articles` writes to the article row with the other dedup columns), or
    None for a text too short for these levels. The benchmark measures the index with it.
    """
    sql = PlainSql(session)
    none = Extraction(main_entity=None)
    # the time matters only to the story level
    pending = _read(sql, [(a, none) for a in article_ids], datetime.now(UTC))
    _find_copies(sql, pending)
    return {p.article_id: p.copy_of or p.sig for p in pending}


def _find_copies(sql: PlainSql, pending: Sequence[_Pending]) -> None:
    """Exact copies by normalised-text hash, then near-duplicates through the band index,
    in batch order; the band keys are written at the end."""
    # The first article of each hash is the original of the batch's later ones (an
    # original placed before the batch has a smaller id and wins).
    first_of: dict[str, int] = {}
    keys: dict[int, Sequence[int]] = {}
    shingles: dict[int, Any] = {}
    todo: list[_Pending] = []
    for p in pending:
        if p.recorded is not None or not p.long or p.article_id in keys:
            continue
        if p.original is None and p.content_hash in first_of:
            p.original = first_of[p.content_hash]
        first_of.setdefault(p.content_hash, p.article_id)
        if p.original is not None:
            p.copy_of = Copy(p.original, 1.0, {"level": "exact", "duplicate_of": p.original})
            keys[p.article_id] = ()
            continue
        # the shingles behind the signature also serve the exact check of candidates
        shingles[p.article_id] = sh = minhash.shingles(p.text)
        p.sig = minhash.signature_of(sh)
        keys[p.article_id] = minhash.band_keys(p.sig)
        todo.append(p)
    index = BandIndex(sql, [(p.article_id, keys[p.article_id]) for p in todo])
    for p in todo:
        assert p.sig is not None
        aid, ks = p.article_id, keys[p.article_id]
        found = near.find_near(
            p.sig, p.text, index.candidates(aid, ks), index.texts, shingles[aid], index.hashes
        )
        index.add(aid, p.sig, ks, p.text, p.content_hash)
        if found is not None:
            similarity = round(found.similarity, 4)
            p.copy_of = Copy(
                found.article_id,
                similarity,
                {
                    "level": "near-duplicate",
                    "duplicate_of": found.article_id,
                    "similarity": similarity,
                    "estimated": round(found.estimated, 4),
                    "verified": "exact shingles" if found.exact_checked else "signatures",
                },
            )
    index.flush()


def _read(sql: PlainSql, items: Sequence[tuple[int, Extraction]], now: datetime) -> list[_Pending]:
    rows = story_rows.read_articles(sql, [aid for aid, _ in items])
    out = []
    for article_id, extraction in items:
        r = rows.get(article_id)
        if r is None:
            raise LookupError(f"no article {article_id}")
        recorded = None
        if r.story_id is not None:
            was = r.join_reason
            recorded = Placement(
                article_id,
                r.story_id,
                str(was.get("level", "new")),
                new_story=bool(was.get("level") == "new"),
                duplicate_of=r.duplicate_of,
                similarity=r.similarity,
                reason=was,
            )
        long = len(r.text.split(None, MIN_WORDS)) > MIN_WORDS  # stops splitting early
        out.append(
            _Pending(
                article_id,
                extraction,
                r.title,
                r.text,
                r.sort_at or now,
                r.content_hash,
                r.same_hash if long else None,
                recorded,
                long=long,
            )
        )
    return out


@dataclass(slots=True)
class _Words:
    """The corpus frequencies a batch weighs words by: read once for the batch's words,
    counted up as each of its originals is placed (so a batch places as the same articles
    one by one would), and written back at its end; and the companies it may name."""

    df: dict[str, int]
    docs: int
    added: dict[str, int] = dataclasses.field(default_factory=dict)
    added_docs: int = 0
    # the stories' companies that the batch's articles may name (``_as_named``): read
    # once for the batch, then each company of a story the batch begins
    companies: set[str] = dataclasses.field(default_factory=set)

    def count(self, words: Iterable[str], *, document: bool = True) -> None:
        for w in words:
            self.df[w] = self.df.get(w, 0) + 1
            self.added[w] = self.added.get(w, 0) + 1
        if document:
            self.docs += 1
            self.added_docs += 1

    def new_story(self, figures: Iterable[story.Figure]) -> None:
        """Count a story, and each figure it states once (see ``story.common_figure``)."""
        self.count([story.STORIES, *(story.figure_token(f) for f in figures)], document=False)


def _days_apart(at: datetime, first: datetime, until: datetime) -> float:
    """Days from ``at`` to the span [first, until] of a story's event (0 inside it)."""
    if at < first:
        return (first - at).total_seconds() / 86400.0
    if at > until:
        return (at - until).total_seconds() / 86400.0
    return 0.0


def _names(p: _Pending) -> list[tuple[str, bool]]:
    """What the article's company may be named among the stories' companies when it is
    not a company of the vocabulary that the title names (see :func:`_as_named`), each
    with whether a longer name that begins with it counts: a company outside the
    vocabulary (longer names too), each shorter form of its name (as such: "halcyon" is
    not "halcyon_labs" when the article says "Halcyon Systems"), then the words of a title
    that names no company of the vocabulary (longer names too)."""
    assert p.profile is not None
    own, extraction = p.profile.company, p.extraction
    wanted: list[tuple[str, bool]] = []
    if own is not None and own in dict(extraction.organisations):
        parts = own.split("_")
        wanted += [("_".join(parts[:i]), i == len(parts)) for i in range(len(parts), 0, -1)]
    if not extraction.title_entities:
        taken = {n for n, _ in wanted}
        wanted += [(n, True) for n in organisations.title_names(p.title) if n not in taken]
    return wanted


def _as_named(
    profile: story.ArticleProfile, wanted: Sequence[tuple[str, bool]], companies: set[str]
) -> story.ArticleProfile:
    """The article's company as the stories already name it. A company outside the
    vocabulary gets its slug from how an article names it: "Hygon Information
    Technology" (hygon_information) in the release, "Hygon's revenue" (hygon) in a
    rewrite; and a rewrite whose title says "Nebius Doubles Down" may name it nowhere
    with a cue, and get no company or one it mentions in passing. One company per story
    kept each such rewrite out of the story it tells. So each of ``wanted``
    (:func:`_names`), in order, is looked up among the stories' ``companies``: itself,
    else (where it may) the one longer name that begins with it; two such are two
    companies, and neither is taken."""
    if not wanted or ((profile.company, True) in wanted and profile.company in companies):
        return profile
    for name, longer in wanted:
        if name in companies:
            company = name
        elif longer:
            named = [k for k in companies if k.startswith(f"{name}_")]
            if len(named) != 1:
                continue
            company = named[0]
        else:
            continue
        gone = set(text_vector.words(company.replace("_", " ")))
        counts = {w: n for w, n in profile.counts.items() if w not in gone}
        return dataclasses.replace(profile, company=company, counts=counts)
    return profile


def _place(
    sql: PlainSql, p: _Pending, window: timedelta, reach: timedelta, words: _Words
) -> Placement:
    article_id, extraction, title, at = p.article_id, p.extraction, p.title, p.at
    duplicate_of: int | None = None
    similarity: float | None = None
    reason: dict[str, Any] = {"level": "new"}
    story_id: int | None = None
    company: str | None = None  # the story's
    held: story.StoryProfile | None = None
    article: story.ArticleProfile | None = None
    if p.copy_of is not None:
        duplicate_of, similarity = p.copy_of.original, p.copy_of.similarity
        reason = dict(p.copy_of.reason)
        of_original = story_rows.story_of(sql, duplicate_of)
        if of_original is not None:
            story_id, company = of_original
    else:
        assert p.profile is not None
        named = _as_named(p.profile, p.names, words.companies)
        article = story.weighed(named, words.df, words.docs)
        words.count(article.counts)
        found = _event_candidates(sql, article, at, window, words)
        matches = story.matching_stories(article, [(c.profile, c.days) for c in found])
        if matches:
            best = matches[0]
            reason, story_id = best.reason(), best.story_id
            held = next(c.profile for c in found if c.profile.story_id == story_id)
            company = held.company
            merged = _mergeable(best, matches[1:], {c.profile.story_id: c.profile for c in found})
            if merged:
                story_id, held = _merge_stories(sql, held, merged, article_id)
                reason["merged"] = sorted(m.story_id for m in merged)
        else:
            restated = _restated(sql, article, at, window, reach, words)
            if restated is not None:
                reason, story_id = restated.reason(), restated.story_id
    level = str(reason["level"])
    new_story = story_id is None
    if story_id is None:
        profile = None
        if article is not None:
            profile = story_codec.encode_story(story_members.first_member(0, article))
            words.new_story(article.figures)
        company = article.company if article is not None else story.company_of(extraction)
        if company is not None:
            words.companies.add(company)  # named by the batch's later articles too
        story_id = story_rows.create_story(
            sql,
            title=title,
            main_entity=company,
            article_id=article_id,
            at=at,
            profile=profile,
        )
    story_rows.write_placement(
        sql,
        article_id,
        story_id=story_id,
        duplicate_of=duplicate_of,
        similarity=similarity,
        reason=reason,
        signature=p.sig,
    )
    if not new_story:
        # An original that joined on the event's evidence is one more member the story
        # stands on; a copy restates its original, a restatement the story: neither
        # changes the profile.
        joins = level == "story" and article is not None and held is not None
        profile = None
        if joins:
            assert article is not None and held is not None
            profile = story_codec.encode_story(story_members.joined(held, article))
            words.count(
                (story.figure_token(f) for f in story_members.unheld(held, article.figures)),
                document=False,
            )
        # a copy, published later than its original, tells nothing new of the event
        story_rows.join_story(sql, story_id, at=at, event=joins, profile=profile)
    if level != "restatement":
        keys = story_members.fact_keys(extraction.facts)
        story_index.add_keys(sql, story_id, company, article_id, keys)
    return Placement(
        article_id,
        story_id,
        level,
        new_story=new_story,
        duplicate_of=duplicate_of,
        similarity=similarity,
        reason=reason,
    )


@dataclass(frozen=True, slots=True)
class _Candidate:
    profile: story.StoryProfile
    days: float


def _profiles(
    sql: PlainSql,
    rows: Sequence[story_index.CandidateRow],
    at: datetime,
    words: _Words,
    against: story.ArticleProfile | None = None,
) -> list[_Candidate]:
    """The candidates' profiles, decoded or kept. With ``against`` (an article to be
    compared), a profile not kept is decoded only if its words meet the article's
    (``story.words_meet``): the others could not match it, and their figures, most of
    a profile's decoding, are left as stored."""
    decoded: dict[int, story.StoryProfile | None] = {}
    for r in rows:
        text = r.profile_json
        if text is None:
            decoded[r.story_id] = None
            continue
        prof = PROFILES.kept(r.story_id, r.main_entity, text)
        if prof is None:
            centroid, parsed = story_codec.centroid_of(text)
            if (
                against is not None
                and centroid is not None
                and not story.words_meet(against, centroid)
            ):
                continue
            prof = PROFILES.decode(r.story_id, r.main_entity, text, parsed)
        decoded[r.story_id] = prof
    missing = [sid for sid, prof in decoded.items() if prof is None]
    if missing:
        decoded.update(build_profiles(sql, missing, words.df, words.docs))
    out = []
    for r in rows:
        prof = decoded.get(r.story_id)
        if prof is not None and prof.members > 0:  # a story of copies only stands on nothing
            out.append(_Candidate(prof, _days_apart(at, r.first_seen_at, r.event_until)))
    return out


def _event_candidates(
    sql: PlainSql, article: story.ArticleProfile, at: datetime, window: timedelta, words: _Words
) -> list[_Candidate]:
    """The stories of the article's company whose event is told within the window: the
    most recent ones, and those holding one of its distinctive figures (those whose
    words cannot meet the article's are left undecoded)."""
    rows = story_index.event_candidates(
        sql,
        company=article.company,
        spans=story_members.figure_spans([f for f in article.figures if f.weight >= 0.5]),
        earliest=at - window,
        latest=at + window,
    )
    return _profiles(sql, rows, at, words, against=article)


def _restated(
    sql: PlainSql,
    article: story.ArticleProfile,
    at: datetime,
    window: timedelta,
    reach: timedelta,
    words: _Words,
) -> story.StoryMatch | None:
    """The standing story the article restates, if any: one of its company, first told
    within ``reach`` before it and whose event window closed before it."""
    heads = [article.figures[i] for i in restatement.headline_figures(article)]
    if article.company is None or not heads:
        return None
    rows = story_index.standing_candidates(
        sql,
        company=article.company,
        spans=story_members.figure_spans(heads),
        earliest=at - reach,
        before=at - window,
    )
    found = [
        m
        for c in _profiles(sql, rows, at, words)
        if (m := restatement.restates(article, c.profile, c.days)) is not None
    ]
    return max(found, key=lambda m: (m.score, -m.story_id)) if found else None


def _mergeable(
    best: story.StoryMatch,
    others: Sequence[story.StoryMatch],
    profiles: dict[int, story.StoryProfile],
) -> list[story.StoryProfile]:
    """The other stories the article shows to be one with its best: it meets each on
    evidence enough to bridge them (``story.bridges``), and the stories also meet each
    other as wholes (issue 13, point 1: an article that resembles two stories is not
    enough to merge them)."""
    if not story.bridges(best):
        return []
    mine = profiles[best.story_id]
    return [
        profiles[m.story_id]
        for m in others
        if story.bridges(m) and story.stories_agree(mine, profiles[m.story_id])
    ]


def _merge_stories(
    sql: PlainSql, best: story.StoryProfile, others: Sequence[story.StoryProfile], bridge: int
) -> tuple[int, story.StoryProfile]:
    """Fold stories into the oldest one (the id that alerts and digests most likely cite);
    the article ``bridge`` being placed joins it afterwards."""
    group = sorted([best, *others], key=lambda p: p.story_id)
    keep = group[0]
    joined = keep
    for other in group[1:]:
        joined = story_members.merged(joined, other)
    gone = [p.story_id for p in group[1:]]
    why = {
        "into": keep.story_id,
        "text_similarity": round(
            min(text_vector.cosine(keep.centroid, o.centroid) for o in group[1:]), 3
        ),
    }
    story_rows.fold_stories(sql, keep.story_id, gone, bridge, why)
    story_rows.set_profile(sql, keep.story_id, story_codec.encode_story(joined))
    return keep.story_id, joined


def build_profiles(
    sql: PlainSql,
    story_ids: Sequence[int],
    df: dict[str, int] | None = None,
    docs: int | None = None,
) -> dict[int, story.StoryProfile]:
    """Profiles of stories that have none of this version yet (stored before it), from
    their original members' rows, weighed by the stored word frequencies unless ``df``
    and ``docs`` are given; stored, and returned by story id."""
    sources = story_rows.member_sources(
        sql, story_ids, per_story=MAX_MEMBERS_REBUILT, head_chars=HEAD_CHARS
    )
    companies = story_rows.companies_of(sql, story_ids)
    drafts = {
        sid: [story.profile(m.title, m.head, m.extraction) for m in reversed(group)]
        for sid, group in sources.items()
    }  # oldest first, as they joined
    if df is None or docs is None:
        words = [w for group in drafts.values() for p in group for w in p.counts]
        df, docs = story_df.read(sql, words)
    out: dict[int, story.StoryProfile] = {}
    for sid, group in drafts.items():
        prof = story.StoryProfile(sid, companies.get(sid), 0)
        for member in group:
            prof = story_members.joined(prof, story.weighed(member, df, docs))
        story_rows.set_profile(sql, sid, story_codec.encode_story(prof))
        out[sid] = prof
    return out


class FactMarks(NamedTuple):
    """Of an article's facts, in order: which the story did not hold yet (what digests
    show as new), and which are the first of their kind in it (what later articles are
    compared with, ``store.story_rows.facts_near``)."""

    new: list[bool]
    first: list[bool]


def mark_new_facts(session: Session, story_id: int, facts: Sequence[Fact]) -> list[bool]:
    """Which of ``facts`` the story did not hold yet (call before inserting them)."""
    return mark_batch_facts(session, [(story_id, facts, False)])[0].new


def mark_batch_facts(
    session: Session, items: Sequence[tuple[int, Sequence[Fact], bool]]
) -> list[FactMarks]:
    """For a batch's articles in order, each as (story id, facts, whether the story began
    in this batch), which facts their story did not hold yet and which are the first of
    their kind in it; before any is inserted.

    A story's stored facts are read only when it began before the batch; the facts of
    the batch's earlier articles count as held, as if inserted one article at a time.
    """
    sql = PlainSql(session)
    earlier: dict[int, story_members.AmountIndex] = {}
    kinds: dict[int, set[story_members.FactKind]] = {}
    out: list[FactMarks] = []
    for story_id, facts, began_here in items:
        keys = [story_members.amount_keys(f) for f in facts]  # once a fact, not four times
        values = [v for mine in keys for _, _, v in mine]
        held = earlier.setdefault(story_id, {})
        stored = story_rows.facts_near(sql, story_id, values) if values and not began_here else []
        out.append(
            FactMarks(
                story_members.new_flags(facts, stored, also=held, keys=keys),
                story_members.first_flags(facts, stored, kinds.setdefault(story_id, set())),
            )
        )
        for f, mine in zip(facts, keys, strict=True):
            story_members.hold(held, f, mine)
    return out
