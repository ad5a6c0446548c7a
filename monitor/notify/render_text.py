"""The digest as plain text: the email's text part, the terminal, the webhook's ``text``.

The view's strings are already one clean line each (``textsafe.one_line``); this module
only lays them out. Links are printed bare in angle brackets (RFC 3986 appendix C), so
mail readers that link URLs find where each ends.
"""

from __future__ import annotations

from monitor.notify.view import Cite, ConflictView, DigestView, Point, StoryView

INDENT = "  "


def render_text(view: DigestView) -> str:
    out = [view.title, "=" * len(view.title)]
    when = f"Generated {view.generated}"
    if view.since:
        when += f", covering news since {view.since}"
    out += [when, view.counts, ""]
    if view.empty:
        out.append("Nothing new." if not view.since else f"Nothing new since {view.since}.")
        return "\n".join(out) + "\n"
    if view.companies:
        out.append("What changed")
        for c in view.companies:
            out.append(f"{INDENT}{_badge(c.severity)}{c.name}: {c.changed}")
        out.append("")
    for c in view.companies:
        out.append(f"== {c.name.upper()} {_badge(c.severity)}".rstrip() + " ==")
        out.append("")
        for s in c.stories:
            out += _story(s)
            out.append("")
    if view.other_alerts:
        out.append("== OTHER ALERTS ==")
        out.append("")
        for p in view.other_alerts:
            out += _point(p, INDENT)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _story(s: StoryView) -> list[str]:
    head = f"* {s.title}" + (f" {_badge(s.severity)}".rstrip() if s.severity else "")
    out = [head, f"{INDENT}{s.about}"]
    if s.link:
        out.append(f"{INDENT}<{s.link}>")
    if s.quiet:
        out.append(f"{INDENT}{s.quiet}")
    for p in s.points:
        out += _point(p, INDENT)
    for c in s.conflicts:
        out += _conflict(c, INDENT)
    return out


def _point(p: Point, pad: str) -> list[str]:
    out = []
    for i, line in enumerate(p.lines):
        out.append(f"{pad}{'- ' if i == 0 else '  '}{_badge(line.severity)}{line.text}")
    if not p.lines:
        out.append(f"{pad}- (no detail)")
    if p.quote:
        out.append(f"{pad}  \u201c{p.quote}\u201d")
    if p.cites:
        out.append(f"{pad}  -- " + "; ".join(_cite(c) for c in p.cites))
    return out


def _conflict(c: ConflictView, pad: str) -> list[str]:
    out = [f"{pad}- Conflicting figures on {c.label}:"]
    for claim in c.claims:
        line = f"{pad}    {claim.value} -- {_cite(claim.cite)}"
        if claim.quote:
            line += f": \u201c{claim.quote}\u201d"
        out.append(line)
    return out


def _cite(c: Cite) -> str:
    return c.label + (f" <{c.link}>" if c.link else "")


def _badge(severity: str | None) -> str:
    return f"[{severity.upper()}] " if severity else ""
