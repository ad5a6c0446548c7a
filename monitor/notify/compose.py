"""A built digest turned into the messages one channel sends: pure, no I/O.

* email: one message per recipient (each with its own Message-ID), text and HTML;
* Slack: one message per part of the Block Kit split (each its own delivery, D5);
* webhook: one message carrying the structured items (``render_json``).

An email or webhook digest of more than ``STORIES_PER_PART`` stories is sent in numbered
parts (the subject says "part i of n"), as Slack's is: thousands of stories in one body
(5,000 made an 8 MB email) are refused by receivers' size limits (nginx's 1 MiB, many
mail servers' 10 MB), and a message refused for its size is dead on every try.

An empty digest yields no message unless the channel says ``send_empty``. An immediate
alert goes through the same path: a ``DigestNews`` holding the one alert and its story,
composed with ``kind="alert"``.
"""

from __future__ import annotations

import dataclasses

from monitor.notify.channels import Channel
from monitor.notify.message import MessageKind, OutboundMessage
from monitor.notify.render_html import render_html
from monitor.notify.render_json import render_json
from monitor.notify.render_slack import render_slack
from monitor.notify.render_text import render_text
from monitor.notify.severity import highest
from monitor.notify.view import CompanyView, DigestView

# About 1-2 KB of text and HTML a story: a part stays well under 1 MiB.
STORIES_PER_PART = 200


def compose(
    channel: Channel, view: DigestView, *, ref_id: str, kind: MessageKind = "digest"
) -> tuple[OutboundMessage, ...]:
    """The messages ``channel`` sends for ``view``; ``ref_id`` names the digest or alert."""
    if view.empty and not channel.send_empty:
        return ()
    name = channel.name
    if channel.type == "slack":
        parts = render_slack(view)
        n = len(parts)
        return tuple(
            OutboundMessage(kind, ref_id, name, i, n, view.subject, str(part["text"]), payload=part)
            for i, part in enumerate(parts, start=1)
        )
    views = split_view(view, STORIES_PER_PART)
    n = len(views)
    out: list[OutboundMessage] = []
    for i, v in enumerate(views, start=1):
        text = render_text(v)
        if channel.type == "email":
            html = render_html(v)
            out += [
                OutboundMessage(kind, ref_id, name, i, n, v.subject, text, html, recipients=(to,))
                for to in channel.to
            ]
        else:
            out.append(OutboundMessage(kind, ref_id, name, i, n, v.subject, text,
                                       payload=render_json(v)))  # fmt: skip
    return tuple(out)


def split_view(view: DigestView, stories: int) -> list[DigestView]:
    """``view`` in parts of at most ``stories`` stories each, in order (a company whose
    stories straddle two parts is in both, with its own in each); one part when it fits.
    Each part carries the ids and the highest severity of the alerts it shows; the
    alerts tied to no story go with the first. Its subject and title say which it is;
    ``counts`` stays the whole digest's."""
    parts: list[list[CompanyView]] = [[]]
    room = stories
    for company in view.companies:
        rest = company.stories
        while rest:
            if room == 0:
                parts.append([])
                room = stories
            here, rest = rest[:room], rest[room:]
            severity = highest(s.severity for s in here if s.severity)
            parts[-1].append(dataclasses.replace(company, stories=here, severity=severity))
            room -= len(here)
    if len(parts) == 1:
        return [view]
    n = len(parts)
    in_stories = {a for c in view.companies for s in c.stories for a in s.alert_ids}
    loose = tuple(a for a in view.alert_ids if a not in in_stories)
    out = []
    for i, companies in enumerate(parts, start=1):
        others = view.other_alerts if i == 1 else ()
        ids = [a for c in companies for s in c.stories for a in s.alert_ids]
        ids += loose if i == 1 else ()
        severities = [c.severity for c in companies] + [
            line.severity for p in others for line in p.lines
        ]
        out.append(
            dataclasses.replace(
                view,
                subject=_numbered(view.subject, i, n),
                title=_numbered(view.title, i, n),
                severity=highest(s for s in severities if s),
                companies=tuple(companies),
                other_alerts=others,
                alert_ids=tuple(dict.fromkeys(ids)),
            )
        )
    return out


def _numbered(line: str, i: int, n: int) -> str:
    return f"{line} (part {i} of {n})"
