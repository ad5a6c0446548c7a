"""New articles through the stages: store, extract, place, evaluate. What a poll and an
ingest share; the caller holds the transaction.

Everything a batch changes commits together with what the caller adds (a poll's
validators and counters), so a crash never leaves validators advanced with articles
missing (RELIABILITY S9).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from monitor import dedup
from monitor.app import digests, evaluation, placement
from monitor.app.runtime import Runtime
from monitor.app.stage_times import StageTimes
from monitor.extract import extract
from monitor.rules.loader import RuleSet
from monitor.store import articles, db
from monitor.values import Extraction, FetchedArticle, Vocabulary

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What became of one fetched or read article."""

    status: str  # new | known (this source has it) | elsewhere (another source has it)
    article_id: int | None = None
    story_id: int | None = None
    duplicate_of: int | None = None
    facts: int = 0  # typed facts (with a metric)
    figures: int = 0  # every figure, typed or not
    terms: int = 0
    topics: int = 0


@dataclass
class BatchReport:
    """What one poll or ingest did."""

    source: str
    fetched: int = 0
    new: int = 0
    duplicates: int = 0  # exact or near copies of a stored article
    new_stories: int = 0
    elsewhere: int = 0  # dropped: another source already has the same link
    facts: int = 0
    alerts: int = 0
    not_modified: bool = False
    partial: bool = False  # the feed was cut short or some pages failed: what came is stored
    warnings: tuple[str, ...] = ()
    error: str | None = None
    error_kind: str | None = None
    new_ids: list[int] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)
    items: list[ItemOutcome] = field(default_factory=list)  # one per fetched article
    stages: StageTimes = field(default_factory=StageTimes)  # CPU seconds by stage


# Term families already reported as skipped by this process, with the pattern they had:
# a pattern that runs past the timeout on one article usually does on many, and once
# tells the operator (a family edited since, and still slow, is told again).
_SKIPPED_SAID: set[tuple[str, str]] = set()


def _say_skipped_terms(
    extracted: Sequence[tuple[int, Extraction]],
    items: Sequence[tuple[int, FetchedArticle]],
    rules: RuleSet,
    timeout: float,
) -> None:
    patterns = {t.id: t.pattern for t in rules.vocabulary.terms}
    for (_, ex), (_, item) in zip(extracted, items, strict=True):
        for family in ex.skipped_terms:
            key = (family, patterns.get(family, ""))
            if key in _SKIPPED_SAID:
                continue
            _SKIPPED_SAID.add(key)
            log.warning(
                "term family %r of the vocabulary: its pattern ran past the regex timeout"
                " (%g s, MONITOR_RULES__REGEX_TIMEOUT) on %s and is skipped where it does;"
                " a pattern that backtracks this much needs rewriting",
                family, timeout, item.url,
            )  # fmt: skip


CHURN_MIN = 3  # items with a new GUID for a stored link before a feed is said to churn


def _sharing_a_link(
    session: Session,
    source_id: int,
    items: Sequence[FetchedArticle],
    conflicts: Sequence[tuple[int, str]],
    owners: dict[str, int],
) -> list[int]:
    """Which refused items are other articles that link to a page of one this source
    holds: another title than the article stored under its key and the one at its link
    (a feed whose items all link to its newsroom). An article's url is unique, so they
    were taken for re-polls and never stored. The same title under its key is a re-poll;
    at its link, under a new key, the same item again (a feed whose GUIDs change). A feed
    without GUIDs keys its items by link and place, so a key alone says nothing."""
    ours = [(i, url) for i, url in conflicts if owners.get(url, source_id) == source_id]
    if not ours:
        return []
    by_url, by_key = articles.titles_by(
        session,
        source_id,
        urls=[url for _, url in ours],
        keys=[articles.entry_key(items[i]) for i, _ in ours],
    )
    out = []
    for i, url in ours:
        title = _title_key(items[i].title)
        stored = (by_key.get(articles.entry_key(items[i])), by_url.get(url))
        if all(t is None or _title_key(t) != title for t in stored):
            out.append(i)
    return out


def _title_key(title: str) -> str:
    return " ".join(title.lower().split())


def _with_own_link(item: FetchedArticle) -> FetchedArticle:
    """The item at its page's address with a fragment of its own, and under a key of its
    own: the link still opens the page, and the url is the item's. Both come from its
    title: a feed without GUIDs keys its items by their place, which moves when an item is
    added (the next poll stored an old item again, and the new one not)."""
    tag = hashlib.sha256(_title_key(item.title).encode("utf-8", "replace")).hexdigest()[:12]
    return dataclasses.replace(
        item, url=f"{item.url.split('#', 1)[0]}#item-{tag}", guid=f"{item.guid}#item-{tag}"
    )


def _say_changing_guids(
    session: Session,
    source_id: int,
    items: Sequence[FetchedArticle],
    conflicts: Sequence[tuple[int, str]],
    owners: dict[str, int],
    report: BatchReport,
) -> None:
    """A feed whose GUIDs change at every fetch (RELIABILITY S3): its items are already
    matched by link (an article's url is unique), so nothing is stored twice, and the
    operator is told, once more than 5% of a poll's items, and at least CHURN_MIN, come
    back so (one item republished under a new GUID is no pattern). A link stored by this
    same batch under another GUID (listed twice) does not count."""
    refused = {i for i, _ in conflicts}
    stored_now = {it.url for i, it in enumerate(items) if i not in refused}
    ours = [
        items[i]
        for i, url in conflicts
        if owners.get(url, source_id) == source_id and items[i].url not in stored_now
    ]
    if len(ours) < CHURN_MIN or len(ours) * 20 <= len(items):
        return
    keys = [articles.entry_key(it) for it in ours]
    known = articles.known_keys(session, source_id, keys)
    changed = sum(1 for key in keys if key not in known)
    if changed >= CHURN_MIN and changed * 20 > len(items):
        report.warnings += (
            f"{changed} of {len(items)} items came with a new GUID for a link already"
            " stored: this feed's GUIDs change between fetches, so its items are matched by"
            " link (none is stored twice)",
        )


def _extract_each(
    session: Session,
    items: Sequence[tuple[int, FetchedArticle]],
    vocab: Vocabulary,
    timeout: float,
) -> list[tuple[int, Extraction]]:
    """Extract each item, inside the batch's transaction. On PostgreSQL, one cheap
    statement every sixth of ``db.IDLE_IN_TRANSACTION`` of extraction: the server ends a
    session idle in a transaction for that long (a frozen worker's), and a batch of long
    documents (25 files of 9 MB: 75 s of extraction) is no frozen worker."""
    keep_alive = session.get_bind().dialect.name == "postgresql"
    every = db.IDLE_IN_TRANSACTION / 6
    said = time.monotonic()
    out = []
    for aid, it in items:
        out.append((aid, extract(it.text, it.title, vocab, regex_timeout=timeout)))
        if keep_alive and time.monotonic() - said > every:
            session.execute(sa.text("SELECT 1"))
            said = time.monotonic()
    return out


def store_batch(
    rt: Runtime,
    session: Session,
    rules: RuleSet,
    source_id: int,
    items: Sequence[FetchedArticle],
    report: BatchReport,
    *,
    now: datetime,
    extractions: Sequence[Extraction] | None = None,
) -> None:
    """Insert, extract and place the batch's new articles, evaluate the rules on them and
    queue the alerts that go out at once; fills ``report``. ``rules`` is the rule set the
    caller read once for the whole batch; ``extractions``, one per item, made with its
    vocabulary elsewhere (``monitor.app.extract_pool``), are used instead of extracting.

    Each stage runs over the whole batch before the next (one band-index lookup, one
    executemany per table), and its CPU time is added to ``report.stages``.
    """
    clock = report.stages
    report.fetched += len(items)
    with clock.stage("store"):
        ids = articles.insert_articles(
            session, source_id, [(it, dedup.content_hash(it.text)) for it in items], now=now
        )
        slots: list[ItemOutcome] = []
        new_items: list[tuple[int, FetchedArticle]] = []
        given: list[Extraction] = []
        conflicts: list[tuple[int, str]] = []
        for i, (item, article_id) in enumerate(zip(items, ids, strict=True)):
            if article_id is None:
                conflicts.append((len(slots), item.url))
                slots.append(ItemOutcome("known"))
                continue
            new_items.append((article_id, item))
            if extractions is not None:
                given.append(extractions[i])
            slots.append(ItemOutcome("new", article_id))
        if conflicts:
            # a re-poll (this source has it) or the same canonical url from another source
            owners = articles.url_owners(session, [url for _, url in conflicts])
            for i, url in conflicts:
                elsewhere = owners.get(url, source_id) != source_id
                report.elsewhere += elsewhere
                slots[i] = ItemOutcome("elsewhere" if elsewhere else "known")
            apart = _sharing_a_link(session, source_id, items, conflicts, owners)
            if apart:
                conflicts = [(i, url) for i, url in conflicts if i not in apart]
                moved = [_with_own_link(items[i]) for i in apart]
                stored = articles.insert_articles(
                    session, source_id, [(it, dedup.content_hash(it.text)) for it in moved],
                    now=now,
                )  # fmt: skip
                for i, item, article_id in zip(apart, moved, stored, strict=True):
                    if article_id is not None:  # else stored so at an earlier poll
                        new_items.append((article_id, item))
                        if extractions is not None:
                            given.append(extractions[i])
                        slots[i] = ItemOutcome("new", article_id)
                if any(a is not None for a in stored):
                    report.warnings += (
                        f"{sum(a is not None for a in stored)} item(s) link to the page of"
                        " another item of this source, with another title: each is stored"
                        " with its own link (#item-...)",
                    )
            _say_changing_guids(session, source_id, items, conflicts, owners, report)
    report.new += len(new_items)
    report.new_ids.extend(aid for aid, _ in new_items)
    with clock.stage("extract"):
        vocab, timeout = rules.vocabulary, rt.settings.rules.regex_timeout
        if extractions is not None:
            new = [(aid, ex) for (aid, _), ex in zip(new_items, given, strict=True)]
        else:
            new = _extract_each(session, new_items, vocab, timeout)
        if any(ex.skipped_terms for _, ex in new):
            _say_skipped_terms(new, new_items, rules, timeout)
    with clock.stage("dedup"):
        # the whole batch at once: one band-index lookup and one write for all of it
        placements = placement.place_articles(
            session, new, now=now, window=rt.story_window, reach=rt.restatement_reach
        )
    with clock.stage("facts"):
        # a story begun in this batch holds no stored fact yet (unless a merge kept it)
        kept = {p.story_id for p in placements if (p.reason or {}).get("merged")}
        fresh = {p.story_id for p in placements if p.new_story} - kept
        marks = placement.mark_batch_facts(
            session,
            [
                (p.story_id, ex.facts, p.story_id in fresh)
                for (_, ex), p in zip(new, placements, strict=True)
            ],
        )
        articles.insert_extractions(
            session,
            [
                (aid, ex, p.story_id, m.new, m.first)
                for (aid, ex), p, m in zip(new, placements, marks, strict=True)
            ],
            now=now,
            known={aid: articles.origin_of(it, source_id, now) for aid, it in new_items},
        )
    placed = {}
    for (article_id, extraction), p in zip(new, placements, strict=True):
        report.duplicates += p.duplicate_of is not None
        report.new_stories += p.new_story
        report.facts += len(extraction.facts)
        placed[article_id] = ItemOutcome(
            "new",
            article_id,
            p.story_id,
            p.duplicate_of,
            facts=sum(1 for f in extraction.facts if f.metric is not None),
            figures=len(extraction.facts),
            terms=len(extraction.terms),
            topics=len(extraction.topics),
        )
    report.items.extend(
        placed.get(s.article_id, s) if s.article_id is not None else s for s in slots
    )
    batch_ids = [aid for aid, _ in new]
    if batch_ids and rules.rules:
        with clock.stage("rules"):
            alert_ids = evaluation.run_rules(session, rules, article_ids=batch_ids, now=now)
        report.alert_ids.extend(alert_ids)
        report.alerts += len(alert_ids)
        with clock.stage("alerts"):
            digests.immediate(rt, session, alert_ids, now=now)
