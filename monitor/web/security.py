"""Who may see the view and what a request may do (issue 15, point 3).

* **Token.** Bound to a loopback address without ``MONITOR_WEB__TOKEN``, the view is
  open to this machine's users. With a token (required for any other address), every
  request needs ``Authorization: Bearer <token>`` or the session cookie the login form
  sets; the cookie carries its issue time and an HMAC of it, valid for ``SESSION_AGE``.
* **Host.** Without a token, only requests that name a loopback host are served: a web
  page elsewhere that rebinds its own name to 127.0.0.1 (DNS rebinding) gets 400.
* **CSRF.** Each browser gets a random nonce in an HttpOnly, SameSite=Strict cookie;
  every form carries HMAC(secret, nonce), and every POST without the right one is
  refused with 403 (the double-submit pattern with a signed token, OWASP CSRF cheat
  sheet). A page on another site can neither read the cookie nor compute the HMAC.
* **Headers.** A Content-Security-Policy that allows this origin's files only (no
  inline script or style anywhere), ``nosniff``, no referrer to article sites, and no
  framing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
log = logging.getLogger(__name__)

HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    # article links leave for other sites: they learn nothing of the view's addresses
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
CSRF_COOKIE = "monitor_csrf"
AUTH_COOKIE = "monitor_session"
CSRF_FIELD = "csrf"
SESSION_AGE = 12 * 3600  # seconds a login lasts
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
OPEN_PATHS = ("/login", "/static/")  # served without a token: the way in, and its CSS


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


@dataclass
class Guard:
    """The view's security settings and the checks made with them."""

    token: str | None = None
    # HMAC key of CSRF tokens and login cookies: derived from the token when there is
    # one (a restart keeps logins), else new in each process
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if self.token:
            self.secret = hashlib.sha256(b"monitor-web\0" + self.token.encode()).digest()

    # ---------------------------------------------------------------- CSRF

    def csrf_for(self, nonce: str) -> str:
        return _sign(self.secret, "csrf:" + nonce)

    def csrf_token(self, request: Request) -> str:
        """The token this browser's forms carry."""
        return self.csrf_for(str(request.scope["state"]["nonce"]))

    def check_csrf(self, request: Request, sent: object) -> None:
        """403 unless ``sent`` is the token of the nonce cookie the request came with."""
        nonce = request.cookies.get(CSRF_COOKIE, "")
        if not nonce or not isinstance(sent, str) or not sent:
            raise HTTPException(403, "missing CSRF token: reload the page and try again")
        if not hmac.compare_digest(self.csrf_for(nonce), sent):
            raise HTTPException(403, "bad CSRF token: reload the page and try again")

    # ---------------------------------------------------------------- token

    def session_cookie(self) -> str:
        issued = str(int(self.clock()))
        return f"{issued}.{_sign(self.secret, 'session:' + issued)}"

    def signed_in(self, request: Request) -> bool:
        if not self.token:
            return True
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and given:
            return hmac.compare_digest(given.strip().encode(), self.token.encode())
        issued, _, sig = request.cookies.get(AUTH_COOKIE, "").partition(".")
        # ascii digits, and few: "²" passes isdigit and int() refuses 4,301 digits
        if not (issued.isascii() and issued.isdigit() and len(issued) <= 12) or not sig:
            return False
        fresh = 0 <= self.clock() - int(issued) < SESSION_AGE
        return fresh and hmac.compare_digest(_sign(self.secret, "session:" + issued), sig)

    def token_matches(self, given: str) -> bool:
        return bool(self.token) and hmac.compare_digest(given.encode(), (self.token or "").encode())


class GuardMiddleware:
    """Host check, token check, the CSRF nonce cookie, and the security headers on every
    response (errors and static files included). Plain ASGI: nothing is buffered."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        nonce = request.cookies.get(CSRF_COOKIE, "")
        fresh = None
        if not (len(nonce) == 32 and nonce.isalnum()):
            nonce = fresh = secrets.token_hex(16)
        scope.setdefault("state", {})["nonce"] = nonce
        scope["state"]["guard"] = self.guard

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for key, val in HEADERS.items():
                    headers[key] = val
                if self.guard.token:
                    # pages behind a login stay out of shared and browser caches
                    headers["cache-control"] = "no-store"
                if fresh is not None:
                    headers.append(
                        "set-cookie",
                        f"{CSRF_COOKIE}={fresh}; Path=/; HttpOnly; SameSite=Strict",
                    )
            await send(message)

        refused = self._refusal(request)
        if refused is not None:
            await refused(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # A bug: answered here, with the headers every response has (the server's
            # own error page, outside this middleware, had none of them).
            if started:
                raise
            log.exception("web view: internal error on %s %s", request.method, scope["path"])
            failed = PlainTextResponse("internal error (logged)\n", status_code=500)
            await failed(scope, receive, send_with_headers)

    def _refusal(self, request: Request) -> Response | None:
        guard = self.guard
        if not guard.token and not is_loopback(request.url.hostname or ""):
            # no token means loopback only: another name is a rebinding page's
            return PlainTextResponse("unknown host: use http://127.0.0.1\n", status_code=400)
        path = request.url.path
        if guard.signed_in(request) or path.startswith(OPEN_PATHS):
            return None
        if path.startswith("/api/") or request.method != "GET":
            return JSONResponse(
                {"error": "a token is required (Authorization: Bearer <MONITOR_WEB__TOKEN>)"},
                status_code=401,
                headers={"www-authenticate": 'Bearer realm="monitor"'},
            )
        target = path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this site only (no ``//host`` or scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


Endpoint = Callable[[Request], Awaitable[Response]]


async def form_checked(request: Request) -> Any:
    """The POSTed form, after its CSRF token was checked (403 otherwise)."""
    form = await request.form()
    guard: Guard = request.scope["state"]["guard"]
    guard.check_csrf(request, form.get(CSRF_FIELD))
    return form
