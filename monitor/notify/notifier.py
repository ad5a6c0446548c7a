"""The one interface every sender implements, and the retry schedule they share.

A ``Notifier`` sends one :class:`OutboundMessage` and says, per recipient, whether it
was delivered, should be retried (maybe after a server-given wait) or failed for good.
It never raises for a delivery failure: the dispatcher records the result on the outbox
row and retries with :func:`retry_delay`. Notifiers: ``email.EmailNotifier``,
``slack.SlackNotifier``, ``webhook.WebhookNotifier`` and ``memory.MemoryNotifier``; one
contract test runs them all on the same cases (DESIGN.md section 2).
"""

from __future__ import annotations

import random
from typing import Protocol, runtime_checkable

from monitor.notify.message import OutboundMessage, RecipientResult, SendResult

BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0


@runtime_checkable
class Notifier(Protocol):
    async def send(self, message: OutboundMessage) -> SendResult:
        """Deliver ``message`` once; failures are results, never exceptions."""
        ...

    async def aclose(self) -> None:
        """Release connections; the notifier is not used afterwards."""
        ...


def backoff(
    attempt: int,
    rng: random.Random,
    *,
    base: float = BACKOFF_BASE_S,
    cap: float = BACKOFF_CAP_S,
) -> float:
    """Seconds to wait before try ``attempt + 1`` after ``attempt`` failures (1-based).

    Exponential with "equal jitter": half of ``base * 2**(attempt-1)`` (capped) for sure,
    the other half random, so retries of many messages spread out instead of arriving
    together, and no retry comes sooner than half the schedule (Alertmanager's Slack
    retries, PRs 2112 and 2128, back off the same way).
    """
    if attempt < 1:
        return 0.0
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 62))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


RETRY_AFTER_MAX = 7 * 86400.0  # seconds


def retry_delay(
    outcome: RecipientResult,
    attempt: int,
    rng: random.Random,
    *,
    base: float = BACKOFF_BASE_S,
    cap: float = BACKOFF_CAP_S,
) -> float:
    """The wait before retrying ``outcome``: :func:`backoff`, or later if the server
    asked for more (Retry-After, RELIABILITY.md N2). A server's "0" or a date past does
    not make a message retry at every tick (its tries spent in a minute); a server's
    wait beyond ``RETRY_AFTER_MAX`` is cut to it (the message's age limit ends it
    sooner anyway, and a date centuries on overflowed the next try's time)."""
    wait = backoff(attempt, rng, base=base, cap=cap)
    if outcome.retry_after is not None and outcome.retry_after > wait:
        wait = min(outcome.retry_after, RETRY_AFTER_MAX)
    return wait
