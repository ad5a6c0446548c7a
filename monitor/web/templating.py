"""The web view's Jinja2 environment: the notify renderer's factory (autoescape forced on
for every template, RELIABILITY.md D6), with the filters pages share.

Text from the web (titles, quotes, source names) is always text: escaped by Jinja2 and
put on one line without control or bidirectional characters (``one_line``); a link is
shown only when it is an absolute http(s) URL (``safe_link``, D4), so a ``javascript:``
URL in a feed never becomes an ``href``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from monitor.notify.render_html import environment
from monitor.notify.textsafe import one_line, plural, safe_link
from monitor.rules.display import format_value

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def when(at: datetime | None, *, seconds: bool = False) -> str:
    """UTC, to the minute: what an analyst compares across pages."""
    if at is None:
        return "never"
    return at.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " UTC"


def day(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%d")


def value(v: float | None, unit: str | None = None, currency: str | None = None) -> str:
    return format_value(v, unit, currency)


def _environment() -> jinja2.Environment:
    env = environment(jinja2.FileSystemLoader(TEMPLATES))
    env.filters.update(
        text=lambda s, limit=None: one_line(None if s is None else str(s), limit),
        link=safe_link,
        when=when,
        day=day,
        value=value,
    )
    env.globals["plural"] = plural
    return env


ENV = _environment()


def compile_all() -> None:
    """Compile every template now (about 0.1 s), so that no visitor's first request to a
    page waits for it (a metric page's templates took 33 ms)."""
    for name in ENV.list_templates():
        ENV.get_template(name)


def render(name: str, **context: Any) -> str:
    return ENV.get_template(name).render(**context)
