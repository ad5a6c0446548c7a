"""Email through aiosmtplib: TLS verified, no plaintext fallback, a result per recipient.

* TLS (RELIABILITY.md N7): ``implicit`` wraps the connection from the first byte (port
  465); ``starttls`` upgrades after EHLO and, when the server does not offer STARTTLS,
  stops there: nothing is sent in plaintext (a missing STARTTLS may be an attacker
  stripping it, so it is retried, not worked around). Certificates are checked against
  the system's CAs with ``ssl.create_default_context()``; smtplib's ``starttls()``
  without a context would not check them. ``none`` is for a local relay, and a login
  over it is refused.
* Every SMTP operation has a timeout (``MONITOR_SMTP__TIMEOUT``, N5).
* Answers (N5, N6): connection refused, timeouts, DNS failures and 4xx replies (421, 450,
  451, 452) are temporary; 5xx replies (550, 553, 554) are permanent for the recipient
  they concern. A partial refusal at RCPT delivers to the others and records each
  refused address with its code: aiosmtplib returns those in a dict instead of raising.
* The message is multipart/alternative (text, then HTML), with a Message-ID derived from
  the digest, part, recipient and text (``OutboundMessage.message_id``), so a resend after a
  crash carries the same Message-ID (N8).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime

import aiosmtplib

from monitor.errors import ConfigError, DeliveryError
from monitor.notify.message import (
    OutboundMessage,
    RecipientResult,
    SendResult,
    Status,
    result_for,
    result_from_error,
)
from monitor.notify.textsafe import one_line
from monitor.settings import SmtpSettings

SUBJECT_CHARS = 200


class EmailNotifier:
    """Sends each message over its own SMTP session to ``MONITOR_SMTP__HOST``."""

    def __init__(
        self,
        smtp: SmtpSettings,
        *,
        tls_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``tls_context`` replaces the system trust store (tests trust a test CA)."""
        if not smtp.host:
            raise ConfigError("email needs an SMTP server: set MONITOR_SMTP__HOST")
        if smtp.tls == "none" and smtp.username:
            raise ConfigError(
                "an SMTP login over a plaintext connection is refused: "
                "set MONITOR_SMTP__TLS to starttls or implicit"
            )
        self._smtp = smtp
        self._host = smtp.host
        self._tls = tls_context or ssl.create_default_context()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._domain = _domain_of(smtp.sender)

    def __repr__(self) -> str:
        s = self._smtp
        return f"EmailNotifier(host={s.host!r}, port={s.port}, tls={s.tls!r})"

    def build(self, message: OutboundMessage) -> EmailMessage:
        """The email for ``message``: headers one line each, text then HTML."""
        email = EmailMessage(policy=SMTP_POLICY)
        # the subject is built from article titles: one line, whatever they held
        # (RFC 5322 section 2.2: a CR or LF would end the header and start another)
        email["Subject"] = one_line(message.subject, SUBJECT_CHARS) or "monitor"
        email["From"] = self._smtp.sender
        email["To"] = ", ".join(message.recipients)
        email["Date"] = format_datetime(self._clock().astimezone(UTC))
        email["Message-ID"] = f"<{message.message_id}@{self._domain}>"
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
        email.set_content(message.text)
        if message.html is not None:
            email.add_alternative(message.html, subtype="html")
        return email

    async def send(self, message: OutboundMessage) -> SendResult:
        if not message.recipients:
            return result_for(message, "permanent", kind="no_recipient", error="no recipient")
        try:
            refused = await self._transaction(self.build(message), message.recipients)
        except DeliveryError as exc:
            return result_from_error(message, exc)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = {r.recipient: (r.code, r.message) for r in exc.recipients}
        return SendResult(
            message.message_id,
            tuple(_outcome(r, refused.get(r)) for r in message.recipients),
        )

    async def aclose(self) -> None:
        """Nothing is kept open between messages."""

    async def _transaction(
        self, email: EmailMessage, recipients: Sequence[str]
    ) -> dict[str, tuple[int, str]]:
        s = self._smtp
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=s.port,
            use_tls=s.tls == "implicit",
            start_tls=False,  # done below, explicitly, so that it cannot be skipped
            tls_context=self._tls,
            validate_certs=True,
            timeout=s.timeout,
        )
        handed_over = False  # to the goodbye, which closes it
        try:
            await client.connect()
            if s.tls == "starttls":
                await client.ehlo()
                if not client.supports_extension("starttls"):
                    raise DeliveryError(
                        "starttls_unavailable",
                        f"{self._host} does not offer STARTTLS; nothing was sent in plaintext",
                    )
                await client.starttls(tls_context=self._tls)
            if s.username:
                password = s.password.get_secret_value() if s.password else ""
                await client.login(s.username, password)
            errors, _ = await client.send_message(
                email, sender=s.sender, recipients=list(recipients)
            )
            # The server took the message at the end of DATA: it is delivered, whatever
            # becomes of the goodbye, which is said apart from this send. Awaited here, a
            # server that dropped the connection at QUIT, or the send's time budget ending
            # during it, made the message a failure, sent again at every retry.
            _say_goodbye(client)
            handed_over = True
            return {addr: (reply.code, reply.message) for addr, reply in errors.items()}
        except aiosmtplib.SMTPRecipientsRefused:
            raise
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPException, OSError) as exc:
            # before ValueError: a certificate failure is both an OSError and a ValueError
            raise _as_delivery_error(exc, self._host) from None
        except ValueError as exc:  # an address aiosmtplib will not put on the wire
            raise DeliveryError("bad_address", one_line(str(exc), 300), permanent=True) from None
        finally:
            if not handed_over and client.is_connected:
                client.close()


_GOODBYES: set[asyncio.Task[None]] = set()  # kept until done: a task nobody holds may vanish
GOODBYE_S = 10.0


def _say_goodbye(client: aiosmtplib.SMTP) -> None:
    """QUIT, and close, in a task of its own (at most ``GOODBYE_S``): nothing of the send
    waits for it."""

    async def goodbye() -> None:
        try:
            async with asyncio.timeout(GOODBYE_S):
                await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        finally:
            if client.is_connected:
                client.close()

    task = asyncio.get_running_loop().create_task(goodbye())
    _GOODBYES.add(task)
    task.add_done_callback(_GOODBYES.discard)


def _outcome(recipient: str, refusal: tuple[int, str] | None) -> RecipientResult:
    if refusal is None:
        return RecipientResult(recipient, "delivered")
    code, text = refusal
    status: Status = "retry" if 400 <= code < 500 else "permanent"
    return RecipientResult(recipient, status, f"smtp_{code}", one_line(text, 300))


def _as_delivery_error(exc: BaseException, host: str) -> DeliveryError:
    """An SMTP or network failure as a typed error: 4xx and network temporary, 5xx not."""
    text = one_line(f"{type(exc).__name__}: {exc}", 300)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(
        exc, aiosmtplib.SMTPConnectResponseError | aiosmtplib.SMTPServerDisconnected
    ):
        code = exc.code
        return DeliveryError(
            f"smtp_{code}", f"{host}: {one_line(exc.message, 300)}", permanent=code >= 500
        )
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        # the greeting itself was a refusal (421 busy, 554 no service)
        return DeliveryError(f"smtp_{exc.code}", f"{host}: {text}", permanent=exc.code >= 500)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return DeliveryError("smtp_not_supported", f"{host}: {text}", permanent=True)
    cause = _root(exc)
    if isinstance(cause, ssl.SSLError):
        return DeliveryError("tls", f"{host}: TLS failure: {one_line(str(cause), 300)}")
    if isinstance(cause, socket.gaierror):
        return DeliveryError("dns", f"{host}: cannot resolve: {cause}")
    if isinstance(exc, TimeoutError):
        return DeliveryError("timeout", f"{host}: {text}")
    if isinstance(cause, ConnectionRefusedError):
        return DeliveryError("connect_refused", f"{host}: {text}")
    return DeliveryError("connect_error", f"{host}: {text}")


def _root(exc: BaseException) -> BaseException:
    seen = exc
    for _ in range(6):
        nxt = seen.__cause__ or seen.__context__
        if nxt is None:
            break
        seen = nxt
        if isinstance(seen, ssl.SSLError | socket.gaierror):
            break
    return seen


def _domain_of(sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else ""
    safe = "".join(ch for ch in domain if ch.isalnum() or ch in ".-")
    return safe or "monitor.localhost"
