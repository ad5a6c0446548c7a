"""Serving the view: ``monitor serve`` on its own, or inside ``monitor run --web``.

Bound to a loopback address the view may go without a token; any other address needs
``MONITOR_WEB__TOKEN`` and refuses to start without one (a ``ConfigError``: one line).
The log says at startup where the view is and whether it asks for the token.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import uvicorn
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.routing import Mount

from monitor.errors import ConfigError
from monitor.probes import EmbeddedServer, parse_address
from monitor.rules.loader import RuleSet
from monitor.settings import Settings
from monitor.store.db import make_read_engine
from monitor.web.app import create_app
from monitor.web.security import Guard, is_loopback
from monitor.web.view import View

log = logging.getLogger(__name__)


def check_address(address: str, token: str | None) -> tuple[str, int]:
    host, port = parse_address(address)
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"the web view on {address} would be open to the network: set MONITOR_WEB__TOKEN "
            "(or bind 127.0.0.1)"
        )
    return host, port


def make_view(settings: Settings, engine: Engine, rules: Callable[[], RuleSet]) -> View:
    """The view over ``engine``'s database: pages read through a read-only engine of the
    same URL, a retry writes through ``engine``."""
    token = settings.web.token.get_secret_value() if settings.web.token else None
    db = settings.database
    read = make_read_engine(
        engine.url.render_as_string(hide_password=False),
        busy_timeout_ms=db.busy_timeout_ms,
        cache_mb=db.cache_mb,
    )
    return View(
        read=read,
        write=engine,
        rules=rules,
        guard=Guard(token=token),
        page_size=settings.web.page_size,
        chart_marks=settings.web.chart_marks,
        stale_factor=settings.schedule.stale_factor,
    )


def announce(address: str, view: View) -> None:
    host, port = parse_address(address)
    shown = f"[{host}]" if ":" in host else host
    if view.guard.token:
        log.info(
            "web view on http://%s:%d/ : a token is required (MONITOR_WEB__TOKEN, as a Bearer "
            "header or through /login)",
            shown,
            port,
        )
    else:
        log.info("web view on http://%s:%d/ (loopback only, no token)", shown, port)


class _Announcing(uvicorn.Server):
    """Says where the view is once it listens: the line means it can be reached."""

    def __init__(self, config: uvicorn.Config, say: Callable[[], None]) -> None:
        super().__init__(config)
        self._say = say

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._say()


def serve(address: str, view: View) -> None:
    """Run until SIGINT or SIGTERM (uvicorn's own signal handling)."""
    host, port = check_address(address, view.guard.token)
    config = uvicorn.Config(
        create_app(view), host=host, port=port, log_level="warning", access_log=False,
        lifespan="off",
    )  # fmt: skip
    try:
        _Announcing(config, lambda: announce(address, view)).run()
    finally:
        view.backtests.close()


def embedded(address: str, view: View, probes: Starlette | None = None) -> EmbeddedServer:
    """A server for the daemon's loop; with ``probes`` (the daemon serves them on the same
    address) their routes come first and stay open to Prometheus without the token."""
    host, port = check_address(address, view.guard.token)
    app: Starlette = create_app(view)
    if probes is not None:
        app = Starlette(routes=[*probes.routes, Mount("/", app=app)])
    announce(address, view)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
    )
    return EmbeddedServer(config)
