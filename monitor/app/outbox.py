"""Dispatching the outbox: claim due messages, send them, mark what happened.

Claiming and marking are short transactions; sending happens between them, outside any
transaction, so a slow server holds no lock. Each message is its own row (one per part,
channel and recipient), so when email succeeds and Slack fails only Slack is tried again
(RELIABILITY N10). The bound, at least once (N8):

* a crash before sending leaves the row claimed; once the lease expires another
  dispatcher (or this one, restarted) sends it: delivered once;
* a crash after sending and before marking sends it again once the lease expires: at
  most one duplicate per crash, with the same Message-ID and idempotency key, so the
  receiver can tell.

A failing message is retried with exponential backoff and jitter (never sooner than a
Retry-After), then dead-lettered with the reason after ``max_attempts`` tries or
``max_age``; a dead letter raises one operator alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from monitor.app import metrics
from monitor.app.digests import message_from
from monitor.app.runtime import Runtime
from monitor.errors import ConfigError
from monitor.net.redact import scrub_hidden
from monitor.notify.message import RecipientResult, SendResult, result_for
from monitor.notify.notifier import Notifier, retry_delay
from monitor.notify.senders import notifier_for
from monitor.notify.textsafe import one_line
from monitor.store import alerts as alerts_store
from monitor.store import deliveries
from monitor.store.alerts import raise_operator_alert
from monitor.store.db import driver_reason, session_scope
from monitor.store.deliveries import Claimed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed message."""

    delivery_id: int
    channel: str
    recipient: str
    status: str  # sent | retrying | dead | lost (another dispatcher took it over)
    error: str | None = None
    next_attempt_at: datetime | None = None


# A send must end by then (a share of the lease from the claim): another dispatcher may
# claim the row once the lease has run out.
LEASE_SPENT = 0.9


@dataclass
class DispatchReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


class Dispatcher:
    """Sends the outbox of one database through one notifier per channel."""

    def __init__(self, rt: Runtime, *, notifiers: Mapping[str, Notifier] | None = None) -> None:
        self.rt = rt
        self._given: dict[str, Notifier] = dict(notifiers or {})
        self._notifiers: dict[str, Notifier] = dict(self._given)
        self._broken: dict[str, str] = {}  # channel -> why it cannot send
        self._channels = rt.channels  # what the senders were made for
        self._retired: list[Notifier] = []  # senders of channels reloaded since
        self._rounds = 0  # rounds under way

    def _follow_channels(self) -> None:
        """A reloaded channels file takes effect at the next round, in a drain under way
        too (it kept sending to a removed channel, or a changed URL, until it ended). The
        old senders are closed once no round uses them."""
        if self.rt.channels is self._channels:
            return
        self._channels = self.rt.channels
        self._retired += [n for k, n in self._notifiers.items() if self._given.get(k) is not n]
        self._notifiers = dict(self._given)
        self._broken.clear()

    async def _close_retired(self) -> None:
        retired, self._retired = self._retired, []
        for n in retired:
            await n.aclose()

    def _notifier(self, channel: str) -> Notifier | None:
        if channel in self._notifiers:
            return self._notifiers[channel]
        conf = next((c for c in self.rt.channels if c.name == channel), None)
        if conf is None:
            self._broken[channel] = f"channel {channel!r} is not in the channels file"
            return None
        try:
            self._notifiers[channel] = notifier_for(conf, self.rt.settings)
        except ConfigError as exc:
            self._broken[channel] = str(exc)
            return None
        return self._notifiers[channel]

    async def aclose(self) -> None:
        await self._close_retired()
        for n in self._notifiers.values():
            await n.aclose()
        self._notifiers.clear()

    # ------------------------------------------------------------------ one round

    def claim(self, *, limit: int | None = None, ids: Sequence[int] | None = None) -> list[Claimed]:
        if not self.rt.channels and not self._notifiers:
            # No channels file here: this worker cannot send anything, and claiming would
            # only spend the messages' tries (one of several daemons started without it)
            # until they are dead-lettered; a worker that has the channels sends them.
            return []
        d = self.rt.settings.delivery
        limit = limit or d.batch
        # This worker's channels only: another worker, whose channels file has one this
        # file lacks (a file being rolled out), sends its messages, their tries unspent.
        # A message no worker claimed well past its age limit (a lease and the longest
        # backoff on: a worker with the channel makes its last try at the limit) is taken
        # here to be dead-lettered (its channel is in no file: waiting would hide it).
        orphan_after = timedelta(seconds=d.max_age + d.lease + d.backoff_cap)
        mine = sorted({c.name for c in self.rt.channels} | set(self._notifiers))
        with session_scope(self.rt.engine) as session:
            now = self.rt.lease_now(session)
            claims = deliveries.claim_due(
                session, worker=self.rt.worker, now=now, lease_s=d.lease, limit=limit,
                channels=mine, ids=ids,
            )  # fmt: skip
            if len(claims) < limit:
                claims += deliveries.claim_due(
                    session, worker=self.rt.worker, now=now, lease_s=d.lease,
                    limit=limit - len(claims), channels=mine, other_channels=True,
                    created_before=now - orphan_after, ids=ids,
                )  # fmt: skip
            return claims

    async def send(
        self, claims: Sequence[Claimed], *, claimed_at: datetime | None = None
    ) -> list[tuple[Claimed, SendResult | None]]:
        """Send claimed messages: channels side by side, each channel's in order (Slack
        allows about one message per second per webhook). A message whose lease is half
        gone before its turn is not sent but given back, due at once; one that starts is
        cut short at ``LEASE_SPENT`` of the lease: no other dispatcher can be sending it at
        the same time."""
        lease = self.rt.settings.delivery.lease
        claimed_at = claimed_at or self.rt.clock()
        deadline = claimed_at + timedelta(seconds=lease / 2)
        cutoff = claimed_at + timedelta(seconds=lease * LEASE_SPENT)
        by_channel: dict[str, list[Claimed]] = defaultdict(list)
        for c in claims:
            by_channel[c.channel].append(c)
        skipped: list[Claimed] = []

        async def one_channel(group: list[Claimed]) -> list[tuple[Claimed, SendResult | None]]:
            notifier = self._notifier(group[0].channel)
            out: list[tuple[Claimed, SendResult | None]] = []
            for c in group:
                now = self.rt.clock()
                if notifier is None:
                    out.append((c, None))
                elif now < deadline:
                    budget = (cutoff - now).total_seconds()
                    out.append((c, await _send_one(notifier, c, budget)))
                else:
                    skipped.append(c)
            return out

        groups = await asyncio.gather(*(one_channel(g) for g in by_channel.values()))
        if skipped:
            # given back at once, due now, so that they go next (in order) rather than
            # wait, unrecorded, for their lease to run out behind later parts
            self.give_back(skipped)
        return [pair for g in groups for pair in g]

    def give_back(self, claims: Sequence[Claimed]) -> None:
        with session_scope(self.rt.engine) as session:
            deliveries.give_back(session, claims)
        log.info(
            "%d message(s) not sent in this round (their lease half gone): due again now",
            len(claims),
        )

    def mark(self, results: Sequence[tuple[Claimed, SendResult | None]]) -> list[Outcome]:
        out: list[Outcome] = []
        dead: list[tuple[Claimed, str]] = []
        with session_scope(self.rt.engine) as session:
            now = self.rt.lease_now(session)
            for claimed, result in results:
                outcome = self._mark_one(session, claimed, result, now)
                out.append(outcome)
                if outcome.status == "dead":
                    dead.append((claimed, outcome.error or ""))
            for claimed, why in dead:
                raise_operator_alert(
                    session,
                    topic="delivery",
                    title=f"message {claimed.id} to {claimed.channel} dead-lettered",
                    details=[f"delivery {claimed.id} ({claimed.kind} {claimed.ref_id}): {why}"],
                    now=now,
                )
        for o, (claimed, _) in zip(out, results, strict=True):
            at = None
            if o.status == "sent" and claimed.kind == "alert" and claimed.ref_id is not None:
                with session_scope(self.rt.engine) as session:
                    at = alerts_store.article_time(session, claimed.ref_id)
            metrics.delivered(o.status, published_at=at)
            level = logging.WARNING if o.status in ("dead", "retrying") else logging.INFO
            log.log(
                level,
                "delivery %d to %s%s: %s%s",
                o.delivery_id, o.channel, f" ({o.recipient})" if o.recipient else "",
                o.status, f": {o.error}" if o.error else "",
                extra={"delivery": o.delivery_id, "channel": o.channel, "status": o.status},
            )  # fmt: skip
        return out

    def _mark_one(
        self, session: Any, claimed: Claimed, result: SendResult | None, now: datetime
    ) -> Outcome:
        d = self.rt.settings.delivery
        tries = claimed.attempts + 1
        if result is None:
            outcomes: tuple[RecipientResult, ...] = (
                RecipientResult(claimed.recipient, "retry", "not_configured",
                                self._broken.get(claimed.channel, "no notifier")),
            )  # fmt: skip
        else:
            outcomes = result.outcomes
        record = {"outcomes": [_plain(o) for o in outcomes], "try": tries}
        failed = [o for o in outcomes if o.status != "delivered"]
        if not failed:
            ok = deliveries.mark(session, claimed, status="sent", now=now, outcome=record)
            return _outcome(claimed, "sent" if ok else "lost")
        error = "; ".join(f"{o.kind or 'error'}: {o.error or ''}".strip() for o in failed)
        kind = failed[0].kind
        permanent = [o for o in failed if o.status == "permanent"]
        too_old = claimed.created_at is not None and now - claimed.created_at > timedelta(
            seconds=d.max_age
        )
        if permanent or tries >= d.max_attempts or too_old:
            if not permanent:
                error += f" (gave up after {tries} tries)" if not too_old else " (too old)"
            ok = deliveries.mark(
                session, claimed, status="dead", now=now, error=error, error_kind=kind,
                outcome=record,
            )  # fmt: skip
            return _outcome(claimed, "dead" if ok else "lost", error)
        wait = max(
            retry_delay(o, tries, self.rt.rng, base=d.backoff_base, cap=d.backoff_cap)
            for o in failed
        )
        if claimed.created_at is not None:
            # no later than the message's age limit: that try is its last, sent or dead
            left = claimed.created_at + timedelta(seconds=d.max_age) - now
            wait = min(wait, max(left.total_seconds(), 0.0))
        at = now + timedelta(seconds=wait)
        ok = deliveries.mark(
            session, claimed, status="retrying", now=now, next_attempt_at=at, error=error,
            error_kind=kind, outcome=record,
        )  # fmt: skip
        return _outcome(claimed, "retrying" if ok else "lost", error, at)

    async def run_once(
        self, *, limit: int | None = None, ids: Sequence[int] | None = None
    ) -> list[Outcome]:
        """Claim, send and mark one batch of due messages."""
        self._follow_channels()
        self._rounds += 1
        try:
            claimed_at = self.rt.clock()
            claims = self.claim(limit=limit, ids=ids)
            if not claims:
                return []
            return self.mark(await self.send(claims, claimed_at=claimed_at))
        finally:
            self._rounds -= 1
            if not self._rounds and self._retired:
                await self._close_retired()

    async def drain(self, *, ids: Sequence[int] | None = None) -> DispatchReport:
        """Send everything due now, batch after batch; what fails waits for its retry."""
        report = DispatchReport()
        while True:
            got = await self.run_once(ids=ids)
            if not got:
                return report
            report.outcomes.extend(got)

    def release(self) -> int:
        """Give back what this dispatcher holds (a clean shutdown)."""
        with session_scope(self.rt.engine) as session:
            return deliveries.release(session, worker=self.rt.worker)

    def release_at_stop(self) -> int | None:
        """``release`` for a command that is stopping (interrupted, terminated): when the
        database does not answer, one line says when the messages come free and the stop
        goes on (its own error is the one to report). None when nothing could be given
        back."""
        try:
            return self.release()
        except sa.exc.DBAPIError as exc:
            log.warning(
                "claimed messages not given back: database unavailable (%s); another"
                " dispatch sends them when their lease ends, within %.0f s",
                driver_reason(exc),
                self.rt.settings.delivery.lease,
            )
            return None


async def _send_one(notifier: Notifier, claimed: Claimed, budget: float) -> SendResult:
    """One message through its sender, within ``budget`` seconds. A bug in a sender (an
    exception it does not turn into a result) must not abort the batch: the messages sent
    before it would not be marked and would go out again at every lease expiry. It is this
    message's failure, retried and in the end dead-lettered like any other.

    The budget ends before the lease does: a send still under way when another dispatcher
    may claim the row (a server answering each SMTP step just within its timeout) would
    be sent twice at the same time. A send cut short is retried, as a timeout is."""
    try:
        message = message_from(claimed.payload)
    except Exception as exc:  # a row no sender can read: trying again would not help
        error = _unexpected(claimed, exc)
        who = claimed.recipient or claimed.channel
        failed = RecipientResult(who, "permanent", "bad_payload", error)
        return SendResult(f"delivery-{claimed.id}", (failed,))
    try:
        async with asyncio.timeout(budget):
            return await notifier.send(message)
    except TimeoutError:
        error = f"not done within {budget:.0f} s, before the message's lease ends"
        return result_for(message, "retry", kind="timeout", error=error)
    except Exception as exc:
        return result_for(message, "retry", kind="internal", error=_unexpected(claimed, exc))


def _unexpected(claimed: Claimed, exc: Exception) -> str:
    """An exception no sender turned into a result, as the message's error: one line,
    without the webhook URLs in use (the traceback goes to the debug log alone)."""
    error = scrub_hidden(one_line(f"internal error: {type(exc).__name__}: {exc}", 300))
    log.error("delivery %d to %s: %s", claimed.id, claimed.channel, error)
    log.debug("delivery %d: the traceback", claimed.id, exc_info=exc)
    return error


def _plain(o: RecipientResult) -> dict[str, Any]:
    return {
        "recipient": o.recipient,
        "status": o.status,
        "kind": o.kind,
        "error": o.error,
        "retry_after": o.retry_after,
    }


def _outcome(
    c: Claimed, status: str, error: str | None = None, at: datetime | None = None
) -> Outcome:
    return Outcome(c.id, c.channel, c.recipient, status, error, at)
