"""The daemon's endpoint for operators: ``/healthz``, ``/readyz`` and ``/metrics``.

* ``/healthz`` (liveness): 200 while the daemon's loops run; 503 when the scheduler has
  not ticked for three of its intervals (a hung loop: restart the process).
* ``/readyz`` (readiness): 200 when the database answers and its schema is the newest
  this monitor knows; 503 otherwise (do not route work here yet).
* ``/metrics``: Prometheus text format (prometheus-client).

Served by uvicorn inside the daemon's event loop (``monitor run --metrics-address``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from monitor.app.metrics import OutboxGauges
from monitor.errors import ConfigError
from monitor.store.db import current_revision, head_revision

log = logging.getLogger(__name__)


class Liveness:
    """When the daemon's loops last showed they run."""

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self.last = time.monotonic()

    def beat(self) -> None:
        self.last = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self.last < 3 * self.tick + 5


def app(engine: Engine, liveness: Liveness) -> Starlette:
    registry = CollectorRegistry()
    registry.register(OutboxGauges(engine))

    async def healthz(_: Request) -> Response:
        if liveness.alive():
            return PlainTextResponse("ok\n")
        return PlainTextResponse("the scheduler has stopped ticking\n", status_code=503)

    async def readyz(_: Request) -> Response:
        try:
            now, head = await asyncio.to_thread(_revisions, engine)
        except Exception as exc:  # any fault of the database makes us not ready
            return PlainTextResponse(f"database: {type(exc).__name__}\n", status_code=503)
        if now != head:
            return PlainTextResponse(f"schema {now}, newest {head}\n", status_code=503)
        return PlainTextResponse(f"ok (schema {now})\n")

    async def metrics(_: Request) -> Response:
        body = generate_latest(DEFAULT_REGISTRY) + await asyncio.to_thread(
            generate_latest, registry
        )
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )


def _revisions(engine: Engine) -> tuple[str | None, str | None]:
    return current_revision(engine), head_revision(engine)


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` (IPv6 as ``[::1]:9464``); ConfigError when malformed."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"bad address {address!r}: expected host:port, e.g. 127.0.0.1:9464")
    return host.strip("[]") or "127.0.0.1", int(port)


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside the daemon's loop: the daemon owns the signals (SIGTERM drains the
    polls first), so the server must not take them over."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server(address: str, asgi: Callable[..., object]) -> EmbeddedServer:
    """A server for ``asgi`` on ``address``; ``await s.serve()`` runs it, ``s.should_exit =
    True`` stops it."""
    host, port = parse_address(address)
    config = uvicorn.Config(
        asgi, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
    )
    return EmbeddedServer(config)
