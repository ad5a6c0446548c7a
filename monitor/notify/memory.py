"""A notifier that keeps what it is given: for tests, previews and the demo.

It answers with scripted results when told to (``fail``), so the dispatcher's retry and
dead-letter paths can be tested without a server.
"""

from __future__ import annotations

from collections import deque

from monitor.notify.message import OutboundMessage, SendResult, Status, result_for


class MemoryNotifier:
    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []  # delivered, in order
        self.attempts: list[OutboundMessage] = []  # every call, delivered or not
        self._script: deque[tuple[Status, str, str, float | None]] = deque()
        self.closed = False

    def fail(
        self,
        status: Status = "retry",
        *,
        kind: str = "scripted",
        error: str = "scripted failure",
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` sends answer ``status`` instead of delivering."""
        for _ in range(times):
            self._script.append((status, kind, error, retry_after))

    async def send(self, message: OutboundMessage) -> SendResult:
        self.attempts.append(message)
        if self._script:
            status, kind, error, retry_after = self._script.popleft()
            if status != "delivered":
                return result_for(message, status, kind=kind, error=error, retry_after=retry_after)
        self.sent.append(message)
        return result_for(message, "delivered")

    async def aclose(self) -> None:
        self.closed = True
