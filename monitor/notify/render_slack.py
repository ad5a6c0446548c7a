"""The digest as Slack Block Kit messages, split at Slack's limits.

A message holds at most 50 blocks and a section's text at most 3,000 characters (Block
Kit reference); a long digest becomes several messages, each numbered "part 2/3", each
its own delivery (RELIABILITY.md D5). Every text is mrkdwn with ``&``, ``<`` and ``>``
escaped and ``verbatim`` set, so neither ``<!channel>`` nor a bare "@here" in an article
title notifies anyone; links are http(s) only.
"""

from __future__ import annotations

from typing import Any

from monitor.notify.textsafe import slack_escape as esc
from monitor.notify.textsafe import slack_link
from monitor.notify.view import Cite, ConflictView, DigestView, Point, StoryView

MAX_BLOCKS = 50  # per message
MAX_SECTION_CHARS = 3000  # per section text
# Slack truncates a message's text at 40,000 characters; the blocks of one part are kept
# under this so that a part is never cut short either
MAX_MESSAGE_CHARS = 36_000

EMOJI = {
    "critical": ":rotating_light:",
    "high": ":red_circle:",
    "medium": ":large_orange_circle:",
    "low": ":large_blue_circle:",
    "info": ":white_circle:",
}

Block = dict[str, Any]


def render_slack(view: DigestView) -> list[dict[str, Any]]:
    """One webhook payload per part: ``{"text": fallback, "blocks": [...]}``."""
    blocks: list[Block] = [_section(_heading(view))]
    if view.empty:
        blocks.append(
            _section("Nothing new" + (f" since {esc(view.since)}." if view.since else "."))
        )
    if view.companies:
        lines = [
            f"\u2022 {_badge(c.severity)}*{esc(c.name)}*: {esc(c.changed)}" for c in view.companies
        ]
        blocks += _sections(["*What changed*", *lines])
    for c in view.companies:
        blocks.append({"type": "divider"})
        blocks += _sections([f"*{esc(c.name.upper())}* {_badge(c.severity)}".rstrip()])
        for s in c.stories:
            blocks += _sections(_story(s))
    if view.other_alerts:
        blocks.append({"type": "divider"})
        lines = ["*Other alerts*"]
        for p in view.other_alerts:
            lines += _point(p)
        blocks += _sections(lines)
    return _messages(view, blocks)


def _heading(view: DigestView) -> str:
    when = f"Generated {view.generated}"
    if view.since:
        when += f", covering news since {view.since}"
    return f"*{esc(view.title)}*\n{esc(view.counts)}\n_{esc(when)}_"


def _story(s: StoryView) -> list[str]:
    title = f"*{slack_link(s.link, s.title)}*"
    lines = [f"{title} {_badge(s.severity)}".rstrip(), f"_{esc(s.about)}_"]
    if s.quiet:
        lines.append(esc(s.quiet))
    for p in s.points:
        lines += _point(p)
    for c in s.conflicts:
        lines += _conflict(c)
    return lines


def _point(p: Point) -> list[str]:
    lines = [f"\u2022 {_badge(ln.severity)}{esc(ln.text)}" for ln in p.lines]
    if p.quote:
        lines.append(f">\u201c{esc(p.quote)}\u201d")
    if p.cites:
        lines.append("     " + "; ".join(_cite(c) for c in p.cites))
    return lines


def _conflict(c: ConflictView) -> list[str]:
    lines = [f"\u2022 Conflicting figures on {esc(c.label)}:"]
    for claim in c.claims:
        line = f"     *{esc(claim.value)}* \u2014 {_cite(claim.cite)}"
        if claim.quote:
            line += f": \u201c{esc(claim.quote)}\u201d"
        lines.append(line)
    return lines


def _cite(c: Cite) -> str:
    return slack_link(c.link, c.label)


def _badge(severity: str | None) -> str:
    return f"{EMOJI.get(severity, '')} *{severity.upper()}* " if severity else ""


def _section(text: str) -> Block:
    # verbatim: Slack leaves plain words alone (no automatic mention or channel parsing)
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def _sections(lines: list[str]) -> list[Block]:
    """Lines packed into as few sections as fit, each under the section limit."""
    out: list[Block] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if len(line) > MAX_SECTION_CHARS:
            line = _clip(line)
        if current and size + 1 + len(line) > MAX_SECTION_CHARS:
            out.append(_section("\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + (1 if size else 0)
    if current:
        out.append(_section("\n".join(current)))
    return out


def _clip(line: str) -> str:
    # cut before an entity or a link so that escaping and <url|label> stay whole
    cut = line[: MAX_SECTION_CHARS - 1]
    for opener, closer in (("&", ";"), ("<", ">")):
        at = cut.rfind(opener)
        if at != -1 and closer not in cut[at:]:
            cut = cut[:at]
    return cut + "\u2026"


def _messages(view: DigestView, blocks: list[Block]) -> list[dict[str, Any]]:
    per_part = MAX_BLOCKS - 1  # one block is kept for the "part i/n" line
    parts: list[list[Block]] = [[]]
    size = 0
    for block in blocks:
        chars = len(block.get("text", {}).get("text", ""))
        if parts[-1] and (len(parts[-1]) >= per_part or size + chars > MAX_MESSAGE_CHARS):
            parts.append([])
            size = 0
        if not parts[-1] and block["type"] == "divider":
            continue  # a part never opens with a rule
        parts[-1].append(block)
        size += chars
    total = len(parts)
    messages = []
    for i, part in enumerate(parts, start=1):
        fallback = f"{esc(view.title)}: {esc(view.counts)}"
        if total > 1:
            marker = f"{esc(view.title)} \u00b7 part {i}/{total}"
            part = [{"type": "context", "elements": [_mrkdwn(marker)]}, *part]
            fallback = f"{esc(view.title)} (part {i}/{total}): {esc(view.counts)}"
        messages.append({"text": fallback, "blocks": part})
    return messages


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}
