"""Rule kinds over mentions and stories: new_term, topic, frequency, spike, stale."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from monitor.rules.amounts import format_duration
from monitor.rules.inputs import EvalInput, MentionRecord, StoryRecord
from monitor.rules.rule_run import Ctx, add_evidence, evidence_of, from_iso, iso
from monitor.rules.schema import (
    CountSpec,
    FrequencySpec,
    NewTermSpec,
    SpikeSpec,
    StaleSpec,
    TopicRuleSpec,
)


def _ordered(mentions: Iterable[MentionRecord]) -> list[MentionRecord]:
    return sorted(mentions, key=lambda m: (m.article.sort_at, m.article.id, m.id))


def normal_term(term: str) -> str:
    # "Qwen3-Max" and "qwen3-max" are one model; keep the first spelling for display
    return " ".join(term.split()).casefold()


# ------------------------------------------------------------------ new_term


def run_new_term(ctx: Ctx, spec: NewTermSpec, mentions: Iterable[MentionRecord]) -> None:
    for m in _ordered(mentions):
        if m.kind != "term" or m.name != spec.family:
            continue
        if spec.entity is not None and m.entity != spec.entity:
            continue
        if ctx.weight(m.article) <= 0:
            continue
        norm = normal_term(m.value)
        key = f"term:{norm}"
        if ctx.known(key):
            continue
        at = m.article.sort_at
        st: dict[str, Any] = {"term": m.value, "first_at": iso(at), "article_id": m.article.id}
        ctx.put(key, st)
        ctx.emit(
            st,
            key=f"{spec.family}|{norm}",
            at=at,
            title=f"New {spec.family.replace('_', ' ')}: {m.value}",
            entity=m.entity,
            story_id=m.article.story_id,
            evidence=[evidence_of(m.article, m.quote)],
            term=m.value,
            family=spec.family,
        )


# ------------------------------------------------------------------ topic


def run_topic(
    ctx: Ctx,
    spec: TopicRuleSpec,
    mentions: Iterable[MentionRecord],
    stories: Mapping[int, StoryRecord],
) -> None:
    key = f"topic:{spec.topic}:{spec.entity or '*'}"
    st = ctx.get(key)
    touched = False
    for m in _ordered(mentions):
        if m.kind != "topic" or m.name != spec.topic:
            continue
        if spec.entity is not None and m.entity != spec.entity:
            # a hit credited to nobody counts for the company its story is about; a hit
            # credited to another company ("Tencent faces export controls") does not
            story = stories.get(m.article.story_id) if m.article.story_id is not None else None
            if m.entity is not None or story is None or story.main_entity != spec.entity:
                continue
        w = ctx.weight(m.article)
        if w <= 0 or not ctx.fresh(key, st, m.article.id):
            continue
        touched = True
        at = m.article.sort_at
        horizon = at - spec.within
        seen = {k: v for k, v in st.get("stories", {}).items() if from_iso(v[1]) >= horizon}
        prior = seen.get(m.article.story_key, [0.0, iso(at)])
        seen[m.article.story_key] = [max(float(prior[0]), w), iso(at)]
        st["stories"] = seen
        evidence = st.setdefault("evidence", [])
        add_evidence(evidence, evidence_of(m.article, m.quote, phrase=m.value))
        if sum(float(v[0]) for v in seen.values()) + 1e-9 < spec.stories:
            continue
        about = f" and {ctx.names.entity(spec.entity)}" if spec.entity else ""
        n = len(seen)
        ctx.emit(
            st,
            key=f"{spec.topic}|{spec.entity or '*'}|{m.article.story_key}",
            at=at,
            title=(
                f"Topic {ctx.names.topic(spec.topic)}{about}: {n} "
                f"{'story' if n == 1 else 'stories'} in {format_duration(spec.within)}"
            ),
            entity=spec.entity or m.entity,
            story_id=m.article.story_id,
            evidence=list(evidence),
            topic=spec.topic,
            stories=sorted(seen),
        )
    if touched:
        ctx.put(key, st)


# ------------------------------------------------------------------ frequency and spike


def _matches(spec: CountSpec, story: StoryRecord) -> bool:
    if spec.entity is not None and spec.entity not in story.entities:
        return False
    return spec.topic is None or spec.topic in story.topics


def _subject(ctx: Ctx, spec: CountSpec) -> str:
    parts = [ctx.names.entity(spec.entity) if spec.entity else "", ctx.names.topic(spec.topic)]
    return " / ".join(p for p in parts if p)


def _count(
    ctx: Ctx, matching: list[StoryRecord], start: datetime, end: datetime
) -> tuple[float, list[StoryRecord]]:
    inside = [s for s in matching if start < s.started_at <= end]
    return sum(ctx.story_weight(s) for s in inside), inside


def _story_evidence(stories: Iterable[StoryRecord]) -> list[dict[str, Any]]:
    return [
        {"story_id": s.id, "title": s.title, "at": iso(s.started_at), "ai_generated": s.ai_only}
        for s in sorted(stories, key=lambda s: s.started_at)[-10:]
    ]


def run_counts(
    ctx: Ctx,
    spec: FrequencySpec | SpikeSpec,
    batch: EvalInput,
    candidates: Iterable[StoryRecord] | None = None,
) -> None:
    """``candidates``: the stories that may match (the engine's index), else all of them."""
    key = f"count:{spec.entity or '*'}:{spec.topic or '*'}"
    pool = batch.stories if candidates is None else candidates
    matching = [s for s in pool if _matches(spec, s)]
    triggers = sorted(
        (s for s in matching if s.id in batch.batch_story_ids), key=lambda s: s.started_at
    )
    if not triggers:
        return
    st = ctx.get(key)
    for trigger in triggers:
        t = trigger.started_at
        count, inside = _count(ctx, matching, t - spec.within, t)
        subject = _subject(ctx, spec)
        window = format_duration(spec.within)
        if isinstance(spec, FrequencySpec):
            if count + 1e-9 < spec.stories:
                continue
            title = f"{subject}: {len(inside)} stories in {window} (rule: {spec.stories})"
            extra: dict[str, Any] = {"count": count}
        else:
            base, _ = _count(ctx, matching, t - spec.within - spec.baseline, t - spec.within)
            ratio = spec.within / spec.baseline
            # at least one story per baseline period: a quiet past is not zero expectation
            expected = max(base * ratio, ratio)
            if count + 1e-9 < spec.min_stories or count + 1e-9 < spec.factor * expected:
                continue
            title = (
                f"{subject}: spike, {len(inside)} stories in {window} vs {base * ratio:.1f} usual"
            )
            extra = {"count": count, "expected": base * ratio, "factor": spec.factor}
        ctx.emit(
            st,
            key=f"{spec.entity or '*'}|{spec.topic or '*'}|{trigger.key}",
            at=t,
            title=title,
            entity=spec.entity,
            story_id=trigger.id,
            evidence=_story_evidence(inside),
            **extra,
        )
    ctx.put(key, st)


# ------------------------------------------------------------------ stale


def run_stale(ctx: Ctx, spec: StaleSpec, batch: EvalInput, now: datetime) -> None:
    targets: list[tuple[str, str, datetime | None, timedelta | None]] = []
    if spec.source is not None:
        for src in batch.sources:
            if not src.active or (spec.source != "*" and src.name != spec.source):
                continue
            limits = [spec.after] if spec.after is not None else []
            if spec.gap_factor is not None and src.usual_gap_s:
                limits.append(timedelta(seconds=spec.gap_factor * src.usual_gap_s))
            limit = max(limits) if limits else None
            targets.append(
                (f"source:{src.name}", f"Source {src.name}", src.last_new_item_at, limit)
            )
    elif spec.entity is not None:
        if spec.metric is not None:
            last = batch.last_seen.get(("metric", f"{spec.entity}/{spec.metric}"))
            label = f"{ctx.names.entity(spec.entity)} {ctx.names.metric(spec.metric)}"
            targets.append((f"metric:{spec.entity}/{spec.metric}", label, last, spec.after))
        else:
            last = batch.last_seen.get(("entity", spec.entity))
            label = ctx.names.entity(spec.entity)
            targets.append((f"entity:{spec.entity}", label, last, spec.after))
    for key, label, last, limit in targets:
        # never seen: nothing went quiet; the source check reports sources that never work
        if last is None or limit is None or now - last <= limit:
            continue
        st = ctx.get(key)
        if st.get("quiet_since") == iso(last):
            continue
        st["quiet_since"] = iso(last)
        ctx.emit(
            st,
            key=f"{key}|{iso(last)}",
            at=now,
            title=(
                f"{label} quiet for {format_duration(_round(now - last))} "
                f"(limit {format_duration(limit)})"
            ),
            entity=spec.entity,
            metric=spec.metric,
            evidence=[{"target": key, "last_activity": iso(last)}],
            last_activity=iso(last),
        )
        ctx.put(key, st)


def _round(delta: timedelta) -> timedelta:
    unit = 3600 if delta >= timedelta(hours=2) else 60
    return timedelta(seconds=int(delta.total_seconds()) // unit * unit)
