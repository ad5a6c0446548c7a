"""THE orchestrator: the only module that sees every stage.

fetch -> store -> dedup -> extract -> rules -> notify. A poll's network work happens
first, outside any transaction; everything it changes in the database (articles, facts,
story placement, validators, counters, alerts) then commits in one transaction, so a crash
never leaves validators advanced with articles missing (RELIABILITY S9). ``MonitorError``
is caught here, once, and recorded on the source.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor import dedup
from monitor.errors import FetchError, MonitorError
from monitor.extract import extract
from monitor.fetch.client import Fetcher, PollResult, Validators
from monitor.fetch.policy import next_poll_delay
from monitor.fetch.source_file import SourceSpec
from monitor.models import Source
from monitor.notify import digest as digest_mod
from monitor.rules.loader import RuleSet
from monitor.settings import Settings
from monitor.store import articles, digests, rules_io, stories
from monitor.store import sources as sources_store
from monitor.store.db import session_scope
from monitor.values import Extraction, FetchedArticle

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class BatchReport:
    """What one poll or ingest did."""

    source: str
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    facts: int = 0
    alerts: int = 0
    not_modified: bool = False
    error: str | None = None
    error_kind: str | None = None
    new_ids: list[int] = field(default_factory=list)


def source_config(spec: SourceSpec) -> sources_store.SourceConfig:
    cfg: dict[str, object] = {"fetch_full": spec.fetch_full}
    if spec.selectors is not None:
        cfg["selectors"] = spec.selectors.model_dump(exclude_none=True)
    return sources_store.SourceConfig(
        name=spec.name,
        url=spec.url,
        kind=spec.kind,
        interval_s=spec.interval_s,
        tags=tuple(spec.tags),
        config=cfg,
    )


def spec_of(row: Source) -> SourceSpec:
    cfg = row.config or {}
    return SourceSpec.model_validate(
        {
            "name": row.name,
            "url": row.url,
            "kind": row.kind,
            "interval_s": row.interval_s,
            "tags": tuple(row.tags or ()),
            "selectors": cfg.get("selectors"),
            "fetch_full": bool(cfg.get("fetch_full", False)),
        }
    )


class Pipeline:
    def __init__(
        self, settings: Settings, engine: Engine, rules: RuleSet, *, clock: Clock = utcnow
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.rules = rules
        self.clock = clock
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._rng = random.Random()

    # ------------------------------------------------------------------ sources

    def sync_sources(self, specs: Sequence[SourceSpec]) -> None:
        with session_scope(self.engine) as session:
            sources_store.sync_sources(session, [source_config(s) for s in specs], self.clock())

    # -------------------------------------------------------------------- polls

    async def poll_due(self, fetcher: Fetcher, *, all_sources: bool = False) -> list[BatchReport]:
        """Claim the due sources (all active ones with ``all_sources``) and poll them."""
        # a tick claims at most two waves of requests, and the lease outlives both even
        # when every request runs to its deadline; the rest wait for the next tick
        http = self.settings.http
        lease_s = http.total_timeout * 6 + 60
        with session_scope(self.engine) as session:
            rows = sources_store.claim_due(
                session,
                worker=self.worker,
                now=self.clock(),
                lease_s=lease_s,
                include_not_due=all_sources,
                limit=None if all_sources else http.concurrency * 2,
            )
            claims = [(spec_of(r), r.lease_token) for r in rows]
        return list(
            await asyncio.gather(*(self.poll_source(fetcher, s, token=t) for s, t in claims))
        )

    async def poll_source(
        self, fetcher: Fetcher, spec: SourceSpec, *, token: int | None = None
    ) -> BatchReport:
        with session_scope(self.engine) as session:
            row = sources_store.by_name(session, spec.name)
            validators = Validators(
                etag=row.etag if row else None,
                last_modified=row.last_modified if row else None,
                content_hash=row.content_hash if row else None,
            )
            # pages already stored are not fetched again (listings, full-article fetches)
            seen: frozenset[str] = frozenset()
            if row is not None and row.id is not None and (spec.kind == "html" or spec.fetch_full):
                seen = articles.seen_keys(session, row.id)
        report = BatchReport(source=spec.name)
        try:
            result = await fetcher.poll(spec, validators, seen=seen)
            self._store_poll(spec, result, report, token)
        except MonitorError as exc:
            self._record_failure(spec, exc, report, token)
        except Exception as exc:
            # a bug or a database fault must not take the other sources down with it, nor
            # leave this one retried at every lease expiry with nothing recorded
            log.exception("source %s: unexpected error", spec.name)
            wrapped = MonitorError(f"internal error: {type(exc).__name__}: {exc}")
            self._record_failure(spec, wrapped, report, token, kind="internal")
        return report

    def _record_failure(
        self,
        spec: SourceSpec,
        exc: MonitorError,
        report: BatchReport,
        token: int | None,
        *,
        kind: str | None = None,
    ) -> None:
        kind = kind or (exc.kind if isinstance(exc, FetchError) else type(exc).__name__)
        retry_after = exc.retry_after if isinstance(exc, FetchError) else None
        report.error, report.error_kind = str(exc), kind
        log.warning("source %s: %s", spec.name, exc)
        with session_scope(self.engine) as session:
            row = sources_store.by_name(session, spec.name, lock=True)
            if row is None or not sources_store.holds_lease(row, token):
                return
            delay = next_poll_delay(
                row.interval_s,
                row.error_count + 1,
                retry_after=retry_after,
                max_backoff=self.settings.schedule.max_backoff,
                rng=self._rng,
            )
            sources_store.record_failure(
                session, row, kind=kind, message=str(exc), next_delay_s=delay, now=self.clock()
            )

    def _store_poll(
        self, spec: SourceSpec, result: PollResult, report: BatchReport, token: int | None
    ) -> None:
        now = self.clock()
        report.not_modified = result.not_modified
        report.fetched = len(result.articles)
        with session_scope(self.engine) as session:
            # locked until commit: a worker that claims the source meanwhile waits, and one
            # that claimed it before makes the token check below fail (PostgreSQL)
            row = sources_store.by_name(session, spec.name, lock=True)
            if row is None or row.id is None:
                raise MonitorError(f"source {spec.name!r} is not in the database")
            if not sources_store.holds_lease(row, token):
                # our lease expired and another worker claimed the source: its poll wins
                raise MonitorError(f"source {spec.name!r}: lease lost to {row.lease_owner}")
            ruleset = self.rules  # one rule set for the whole batch, even if a reload swaps it
            self._store_articles(session, ruleset, row.id, result.articles, report, now)
            delay = next_poll_delay(
                row.interval_s,
                0,
                min_interval_s=result.min_interval_s,
                max_backoff=self.settings.schedule.max_backoff,
                rng=self._rng,
            )
            v = result.validators
            sources_store.record_success(
                session,
                row,
                etag=v.etag,
                last_modified=v.last_modified,
                content_hash=v.content_hash,
                new_items=report.new,
                next_delay_s=delay,
                now=now,
            )
            report.alerts = self._evaluate(session, ruleset, report.new_ids, now)

    # ------------------------------------------------------------------- ingest

    def ingest(self, items: Sequence[FetchedArticle], *, source: str) -> BatchReport:
        """Local articles through the same stages as a poll; alerts recorded, none sent."""
        now = self.clock()
        report = BatchReport(source=source, fetched=len(items))
        with session_scope(self.engine) as session:
            row = sources_store.ensure_source(session, source, f"file://{source}")
            assert row.id is not None
            ruleset = self.rules
            self._store_articles(session, ruleset, row.id, items, report, now)
            report.alerts = self._evaluate(session, ruleset, report.new_ids, now)
        return report

    # ------------------------------------------------------- store/dedup/extract

    def _store_articles(
        self,
        session: Session,
        ruleset: RuleSet,
        source_id: int,
        items: Sequence[FetchedArticle],
        report: BatchReport,
        now: datetime,
    ) -> None:
        window = timedelta(days=self.settings.schedule.story_window_days)
        vocab = ruleset.vocabulary
        timeout = self.settings.rules.regex_timeout
        new: list[tuple[int, Extraction]] = []
        for item in items:
            article_id = articles.insert_article(
                session, source_id, item, content_hash=dedup.content_hash(item.text), now=now
            )
            if article_id is None:
                continue  # already stored: a re-poll, or the same canonical url elsewhere
            report.new += 1
            report.new_ids.append(article_id)
            new.append((article_id, extract(item.text, item.title, vocab, regex_timeout=timeout)))
        # the whole batch at once: one band-index lookup and one write for all of it
        placements = stories.place_articles(session, new, now=now, window=window)
        for (article_id, extraction), placement in zip(new, placements, strict=True):
            if placement.duplicate_of is not None:
                report.duplicates += 1
            flags = stories.mark_new_facts(session, placement.story_id, extraction.facts)
            articles.insert_extraction(
                session,
                article_id,
                extraction,
                story_id=placement.story_id,
                new_flags=flags,
                now=now,
            )
            report.facts += len(extraction.facts)

    # -------------------------------------------------------------------- rules

    def evaluate_idle(self) -> int:
        """Evaluate with no new article: what only the passing of time fires (stale rules)."""
        ruleset = self.rules
        if not ruleset.rules:
            return 0
        with session_scope(self.engine) as session:
            return len(rules_io.run_rules(session, ruleset, article_ids=[], now=self.clock()))

    def forget_removed_rules(self) -> int:
        with session_scope(self.engine) as session:
            return rules_io.prune_state(session, self.rules)

    def _evaluate(
        self, session: Session, ruleset: RuleSet, article_ids: Sequence[int], now: datetime
    ) -> int:
        if not article_ids or not ruleset.rules:
            return 0
        return len(rules_io.run_rules(session, ruleset, article_ids=article_ids, now=now))

    # ------------------------------------------------------------------- digest

    def build_digest(
        self, *, since: datetime | None, title: str = "monitor digest"
    ) -> digest_mod.DigestInput:
        with session_scope(self.engine) as session:
            return digest_input(
                session, since=since, title=title, now=self.clock(), vocab_labels=self._labels()
            )

    def _labels(self) -> dict[str, str]:
        v = self.rules.vocabulary
        labels = {e.id: e.names[0] for e in v.entities if e.names}
        labels.update({m.id: m.label or m.id.replace("_", " ") for m in v.metrics})
        return labels


def digest_input(
    session: Session,
    *,
    since: datetime | None,
    title: str,
    now: datetime,
    vocab_labels: dict[str, str],
) -> digest_mod.DigestInput:
    m = digests.material(session, since=since)
    fmt = digest_mod.format_value

    def label(key: str | None) -> str:
        return vocab_labels.get(key or "", key or "?")

    alerts_by_story: dict[int | None, list[digest_mod.DigestAlert]] = {}
    for a in m["alerts"]:
        p = a.payload or {}
        evidence = p.get("evidence") or [{}]
        first = evidence[0] if isinstance(evidence[0], dict) else {}
        # change titles already read "old -> new"; other kinds carry no pair worth showing
        pair = p.get("kind") in ("change", "threshold") and "->" not in a.title
        alerts_by_story.setdefault(a.story_id, []).append(
            digest_mod.DigestAlert(
                rule_id=a.rule_id,
                severity=a.severity,
                title=a.title,
                entity=a.entity,
                metric=a.metric,
                old=fmt(a.old_value, p.get("unit"), p.get("currency")) if pair else None,
                new=fmt(a.new_value, p.get("unit"), p.get("currency")) if pair else None,
                quote=first.get("quote") or p.get("quote"),
                url=first.get("url"),
                story_id=a.story_id,
                id=a.id,
            )
        )
    out = []
    for story in m["stories"]:
        members = m["members"].get(story.id, [])
        if not members:
            continue
        canonical = next(
            (a for a, _ in members if a.id == story.canonical_article_id), members[0][0]
        )
        seen: set[tuple[object, ...]] = set()
        facts: list[digest_mod.DigestFact] = []
        for f, url in m["facts"].get(story.id, []):
            key = (f.entity, f.metric, tuple(sorted((f.qualifiers or {}).items())), f.value)
            if key in seen or len(facts) >= 8:
                continue
            seen.add(key)
            qual = ", ".join(v for _, v in sorted((f.qualifiers or {}).items()))
            facts.append(
                digest_mod.DigestFact(
                    label=f"{label(f.entity)} · {label(f.metric)}" + (f" ({qual})" if qual else ""),
                    value=fmt(f.value, f.unit, f.currency),
                    quote=f.quote,
                    url=url,
                )
            )
        mentions = m["mentions"].get(story.id, [])
        out.append(
            digest_mod.DigestStory(
                id=story.id or 0,
                title=canonical.title or story.title,
                url=canonical.url,
                sources=tuple(dict.fromkeys(src for _, src in members)),
                article_count=len(members),
                first_seen=story.first_seen_at or now,
                facts=tuple(facts),
                terms=tuple(dict.fromkeys(x.value for x in mentions if x.kind == "term")),
                topics=tuple(dict.fromkeys(label(x.name) for x in mentions if x.kind == "topic")),
                alerts=tuple(alerts_by_story.pop(story.id, [])),
            )
        )
    loose = tuple(a for alerts in alerts_by_story.values() for a in alerts)
    return digest_mod.DigestInput(title=title, generated_at=now, stories=tuple(out), alerts=loose)


def write_digest_html(d: digest_mod.DigestInput, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"digest-{d.generated_at:%Y%m%dT%H%M%S}.html"
    path.write_text(digest_mod.render_html(d), encoding="utf-8")
    return path
