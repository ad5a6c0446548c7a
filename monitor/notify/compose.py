"""A built digest turned into the messages one channel sends: pure, no I/O.

* email: one message per recipient (each with its own Message-ID), text and HTML;
* Slack: one message per part of the Block Kit split (each its own delivery, D5);
* webhook: one message carrying the structured items (``render_json``).

An empty digest yields no message unless the channel says ``send_empty``. An immediate
alert goes through the same path: a ``DigestNews`` holding the one alert and its story,
composed with ``kind="alert"``.
"""

from __future__ import annotations

from monitor.notify.channels import Channel
from monitor.notify.message import MessageKind, OutboundMessage
from monitor.notify.render_html import render_html
from monitor.notify.render_json import render_json
from monitor.notify.render_slack import render_slack
from monitor.notify.render_text import render_text
from monitor.notify.view import DigestView


def compose(
    channel: Channel, view: DigestView, *, ref_id: str, kind: MessageKind = "digest"
) -> tuple[OutboundMessage, ...]:
    """The messages ``channel`` sends for ``view``; ``ref_id`` names the digest or alert."""
    if view.empty and not channel.send_empty:
        return ()
    text = render_text(view)
    name, subject = channel.name, view.subject
    if channel.type == "email":
        html = render_html(view)
        return tuple(
            OutboundMessage(kind, ref_id, name, 1, 1, subject, text, html, recipients=(to,))
            for to in channel.to
        )
    if channel.type == "slack":
        parts = render_slack(view)
        n = len(parts)
        return tuple(
            OutboundMessage(kind, ref_id, name, i, n, subject, str(part["text"]), payload=part)
            for i, part in enumerate(parts, start=1)
        )
    return (OutboundMessage(kind, ref_id, name, 1, 1, subject, text, payload=render_json(view)),)
