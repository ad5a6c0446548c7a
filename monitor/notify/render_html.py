"""The digest as an HTML email: Jinja2, with autoescape on for every template.

Autoescape is ``True`` outright, not ``select_autoescape``: choosing by file extension
misses templates with other suffixes (GHSA-pwgc-w4x9-gw67, RELIABILITY.md D6). Titles
and quotes from the web are text; links are only the view's http(s) ones (D4).
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from monitor.notify.view import DigestView

TEMPLATES = Path(__file__).parent / "templates"

# severity badge colours: readable on white, and distinct without colour by their text
COLOURS = {
    "critical": "#7f1d1d",
    "high": "#b91c1c",
    "medium": "#b45309",
    "low": "#1d4ed8",
    "info": "#4b5563",
}


def environment(loader: jinja2.BaseLoader | None = None) -> jinja2.Environment:
    """The one Jinja2 environment factory: every template it loads is autoescaped."""
    env = jinja2.Environment(
        loader=loader or jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its extension (D6)
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.globals["colours"] = COLOURS
    return env


_ENV = environment()


def render_html(view: DigestView) -> str:
    return _ENV.get_template("digest_email.html").render(v=view)
