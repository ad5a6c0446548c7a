"""What a notifier is given and what it answers: one message part, one result per recipient.

An :class:`OutboundMessage` is one rendered part of one digest or alert, for one channel
and (for email) its recipients. Its ``message_id`` and ``idempotency_key`` are derived
from what it carries, never from the time or a counter, so a message sent again after a
crash (between sending and marking it sent) carries the same Message-ID and key: the
documented at-least-once bound is one duplicate that receivers can recognise
(RELIABILITY.md N8).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from monitor.errors import DeliveryError

MessageKind = Literal["digest", "alert", "operator"]
Status = Literal["delivered", "retry", "permanent"]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One part of one digest or alert, rendered for one channel.

    ``recipients`` are email addresses (one per message when built by ``compose``, so
    each recipient's Message-ID is its own; an email notifier accepts several); Slack and
    webhook messages have none. ``payload`` is the channel's structured form: Slack's
    ``{"text", "blocks"}`` or the webhook's digest items.
    """

    kind: MessageKind
    ref_id: str  # the digest's or alert's id (or window key)
    channel: str
    part: int  # 1-based
    parts: int
    subject: str  # one line (``textsafe.one_line``): safe in an email header
    text: str
    html: str | None = None
    payload: Mapping[str, Any] | None = None
    recipients: tuple[str, ...] = ()

    @property
    def idempotency_key(self) -> str:
        """The outbox's unique key for this message: kind, id, channel, part, recipients."""
        who = ",".join(sorted(self.recipients))
        return f"{self.kind}:{self.ref_id}:{self.channel}:{self.part}/{self.parts}:{who}"

    @property
    def message_id(self) -> str:
        """The left part of a Message-ID (RFC 5322 section 3.6.4), the same on every try.

        Readable where it can be (kind, id, part) and hashed where it holds addresses and
        what the message says: a database started again (or a second one) numbers its
        digests from 1 again, and a mailbox that drops a Message-ID it has seen would
        drop each new digest numbered as an old one was.
        """
        said = f"{self.idempotency_key}\x1f{self.subject}\x1f{self.text}"
        digest = hashlib.sha256(said.encode("utf-8", "replace")).hexdigest()[:20]
        ref = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in self.ref_id)[:40]
        return f"{self.kind}.{ref}.{self.part}of{self.parts}.{digest}"


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """How one recipient (an address, or the channel for Slack and webhooks) fared."""

    recipient: str
    status: Status
    kind: str | None = None  # e.g. "smtp_550", "http_429", "timeout", "tls"
    error: str | None = None  # the server's words, never a webhook URL
    retry_after: float | None = None  # seconds the server asked us to wait

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one :class:`OutboundMessage`, per recipient."""

    message_id: str
    outcomes: tuple[RecipientResult, ...] = field(default=())

    @property
    def status(self) -> Status:
        """delivered when all were; retry when any may still be; else permanent."""
        states = {o.status for o in self.outcomes}
        if states <= {"delivered"}:
            return "delivered"
        return "retry" if "retry" in states else "permanent"

    @property
    def retry_after(self) -> float | None:
        """The longest wait any recipient's server asked for."""
        waits = [o.retry_after for o in self.outcomes if o.retry_after is not None]
        return max(waits) if waits else None

    def recipients(self, status: Status) -> tuple[str, ...]:
        return tuple(o.recipient for o in self.outcomes if o.status == status)

    @property
    def error(self) -> str | None:
        """One line naming each recipient that was not delivered, for the outbox row."""
        failed = [o for o in self.outcomes if o.status != "delivered"]
        if not failed:
            return None
        return "; ".join(f"{o.recipient}: {o.kind}: {o.error}" for o in failed)


def result_for(
    message: OutboundMessage,
    status: Status,
    *,
    kind: str | None = None,
    error: str | None = None,
    retry_after: float | None = None,
    recipients: Sequence[str] | None = None,
) -> SendResult:
    """The same outcome for every recipient of ``message`` (or the channel itself)."""
    who = recipients or message.recipients or (message.channel,)
    return SendResult(
        message.message_id,
        tuple(RecipientResult(r, status, kind, error, retry_after) for r in who),
    )


def result_from_error(message: OutboundMessage, exc: DeliveryError) -> SendResult:
    """A ``DeliveryError`` as the result of every recipient of ``message``."""
    status: Status = "permanent" if exc.permanent else "retry"
    return result_for(message, status, kind=exc.kind, error=exc.reason, retry_after=exc.retry_after)
