"""Confirmed values: when enough independent stories back a figure (issue 6, point 3).

Change and threshold act on confirmed values only. Copies and AI rewrites of one
announcement share a story, so they count once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.rules.amounts import Amount
from monitor.rules.points import BOUND_WORDS, Point, near_any, same
from monitor.rules.rule_run import Ctx, add_evidence, evidence_of, iso

MAX_STORIES = 64  # per series: the most recent stories' reports (confirm.stories <= 50)
MAX_ITEMS = 12  # per story: its most recent figures, enough for a majority
MAX_EVIDENCE = 24  # per series: quotes kept to show when a value is confirmed


def confirm(
    ctx: Ctx, st: dict[str, Any], point: Point, *, deadband: Amount | None = None
) -> dict[str, Any] | None:
    """Add one fact's report; return the old and new confirmed values when a new one wins.

    Returns ``{"old": <previous confirmed or None>, "new": <new confirmed>}`` or None.

    Each story has one voice: it backs the figure most of its articles give (all of them
    on a tie), so five rewrites saying $53 billion and one saying $52 billion back $53
    billion. An article giving two figures ("from RMB 380 billion to RMB 480 billion")
    backs both. Reports made before the current value was confirmed do not count toward
    another: only news after it can move it.

    With ``deadband``, a newly confirmed value closer than that to the confirmed one does
    not replace it: the baseline moves only by significant steps, and a slow drift adds
    up until it is worth an alert.
    """
    art = point.record.article
    w = ctx.weight(art)
    if w <= 0 or (point.record.fact.approx or "").casefold() in BOUND_WORDS:
        return None
    at = art.sort_at
    mid = (point.value + point.high) / 2
    spec = ctx.rule.spec.confirm
    confirmed = st.get("confirmed")
    epoch = str(confirmed["at"]) if confirmed is not None else None
    mine = _report(ctx, st, point, mid, w, at - spec.within, epoch)
    if confirmed is not None and same(mid, float(confirmed["value"]), ctx):
        stories = confirmed.setdefault("stories", [])
        if art.story_key not in stories and any(same(mid, v, ctx) for v in mine["backed"]):
            stories.append(art.story_key)
            del stories[:-20]
        return None
    superseded = [float(v) for v in st.get("superseded", [])]
    # a story that backs the current value and names an old one is telling history
    history = (
        set(confirmed.get("stories", []))
        if confirmed is not None and any(same(mid, old, ctx) for old in superseded)
        else set()
    )
    if art.story_key in history:
        return None
    support: dict[str, float] = {}
    non_ai = False
    near = near_any(ctx, mid)
    for key, rep in st["reports"].items():
        backed = rep["backed"]  # empty for every story older than the confirmed value
        if backed and key not in history and near(backed):
            support[key] = float(rep["w"])
            non_ai = non_ai or bool(rep["non_ai"])
    # Whatever the rule says, values backed only by AI writers need two independent
    # stories: one AI article with an odd number never moves a confirmed value.
    if sum(support.values()) + 1e-9 < spec.stories or (not non_ai and len(support) < 2):
        return None
    if (
        deadband is not None
        and confirmed is not None
        and not deadband.exceeded_by(float(confirmed["value"]), mid)
    ):
        return None
    evidence: list[dict[str, Any]] = []
    for item in st.get("evidence", []):
        if item.get("story") in support and same(mid, float(item["value"]), ctx):
            add_evidence(evidence, item)
    new = {"value": mid, "at": iso(at), "stories": sorted(support), "evidence": evidence}
    st["confirmed"] = new
    if confirmed is not None:
        st["superseded"] = [*st.get("superseded", []), confirmed["value"]][-5:]
    stamp = iso(at)
    for rep in st["reports"].values():  # a new epoch: older reports stop counting
        # a story whose newest figure is older backs nothing now (the common case, read
        # from its stamp instead of recounting its figures)
        rep["backed"] = [] if rep["last"] < stamp else _backed(ctx, rep["items"], stamp)
    return {"old": confirmed, "new": new}


def _report(
    ctx: Ctx,
    st: dict[str, Any],
    point: Point,
    value: float,
    w: float,
    horizon: datetime,
    epoch: str | None,
) -> dict[str, Any]:
    """Record one article's figure under its story; forget stories older than ``horizon``.

    Returns the story's report, whose ``backed`` (the figures it backs since ``epoch``, a
    stamp as ``iso`` writes it) is kept up to date here so that counting support reads it
    instead of recounting.
    """
    art = point.record.article
    # every fact of a busy series passes here: the stamps are compared as text (``iso``
    # writes them so that text order is time order), a tenth of the cost of reading each
    # back as a time
    hz = iso(horizon)
    reports: dict[str, Any] = st.setdefault("reports", {})
    # ``oldest`` is at most the oldest story's stamp: the stories are walked only when
    # one may have fallen out of the window, not for every fact
    if st.get("oldest", "") < hz:
        for key in [key for key, rep in reports.items() if rep["last"] < hz]:
            del reports[key]
        st["oldest"] = min((rep["last"] for rep in reports.values()), default=hz)
    rep = reports.pop(art.story_key, None) or {"w": 0.0, "non_ai": False, "items": []}
    items = [i for i in rep["items"] if i[2] >= hz]
    rep["items"] = [*items, [value, art.id, iso(art.sort_at)]][-MAX_ITEMS:]
    rep["w"] = max(float(rep["w"]), w)
    rep["non_ai"] = bool(rep["non_ai"]) or not art.ai_generated
    rep["last"] = max(i[2] for i in rep["items"])
    rep["backed"] = _backed(ctx, rep["items"], epoch)
    reports[art.story_key] = rep  # most recent last; the newest are kept over the cap
    st["oldest"] = min(st["oldest"], rep["last"])
    while len(reports) > MAX_STORIES:
        del reports[next(iter(reports))]
    ev = evidence_of(art, point.record.fact.quote, value=value, surface=point.record.fact.surface)
    ev["story"] = art.story_key
    evidence = [
        e
        for e in st.get("evidence", [])
        if e.get("article_id") != art.id or float(e["value"]) != value
    ]
    st["evidence"] = [*evidence, ev][-MAX_EVIDENCE:]
    return rep


def _backed(ctx: Ctx, items: list[list[Any]], epoch: str | None) -> list[float]:
    """The figures a story backs: those given by the most of its articles since ``epoch``
    (a stamp as ``iso`` writes it)."""
    recent = [i for i in items if epoch is None or i[2] >= epoch]
    if len(recent) == 1:
        return [float(recent[0][0])]
    counts: list[tuple[float, int]] = []
    for value, _, _ in recent:
        articles = {aid for v, aid, _ in recent if same(float(v), float(value), ctx)}
        counts.append((float(value), len(articles)))
    if not counts:
        return []
    top = max(n for _, n in counts)
    return sorted({v for v, n in counts if n == top})
