"""The sources file: what to poll, how often, and how to read HTML listings.

Shape (``seeds/sources.yaml`` is the worked example)::

    base_url: http://127.0.0.1:8765    # optional; relative source urls resolve against it
    sources:
      - name: markets                  # unique
        url: /feeds/markets.rss
        kind: rss                      # rss | atom | html | auto (sniff the body)
        interval: 15m                  # "30s", "15m", "1h", "1h30m" or seconds
        tags: [markets, china]
        fetch_full: false              # fetch each item's page when the feed has summaries
      - name: site
        url: /site/index.html
        kind: html
        selectors: {items: "a.headline", title: h1, author: .byline, date: time, body: article}

Every mistake is reported at once as ``path:line:col: message`` (a ``SourceFileError``),
unknown keys with a "did you mean" suggestion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from monitor.errors import Problem, SourceFileError
from monitor.yamlsource import Located, YamlProblem, load_file, pydantic_problems, unknown_keys

DEFAULT_INTERVAL_S = 900.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", re.IGNORECASE)
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_PROBE = LexborHTMLParser("<html><body><p>probe</p></body></html>")


def _scheme(url: str) -> str:
    """The URL's scheme; "?" for one urlsplit refuses ("http://[::1" never closes its
    host), which the source's own check then reports at its line."""
    try:
        return urlsplit(url).scheme
    except ValueError:
        return "?"


def parse_duration(value: Any) -> float:
    """Seconds from ``30``, ``"30s"``, ``"15m"``, ``"1h30m"`` or ``"1d"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 15m, 1h or a number of seconds")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise ValueError("interval is far too long") from None
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        elif text and re.fullmatch(r"(?:\d+(?:\.\d+)?[dhms])+", text, re.IGNORECASE):
            seconds = sum(float(n) * _UNIT_S[u.lower()] for n, u in _DURATION.findall(text))
        else:
            raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 15m, 1h, or seconds)")
    else:
        raise ValueError("expected a duration like 15m, 1h or a number of seconds")
    if seconds <= 0:
        raise ValueError("interval must be positive")
    return seconds


def check_css(selector: str) -> str:
    """Refuse a CSS selector Lexbor cannot parse, or one it would silently half-parse."""
    text = selector.strip()
    if not text:
        raise ValueError("empty CSS selector")
    # Lexbor accepts an unterminated attribute selector (`a[href`) and matches nothing
    # (RELIABILITY.md R4), so brackets and quotes are balanced by hand first.
    depth = {"[": 0, "(": 0}
    quote: str | None = None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth[ch] += 1
        elif ch in "])":
            key = "[" if ch == "]" else "("
            depth[key] -= 1
            if depth[key] < 0:
                raise ValueError(f"unbalanced {ch!r} in CSS selector {text!r}")
    if quote or any(depth.values()):
        raise ValueError(f"unterminated bracket or quote in CSS selector {text!r}")
    try:
        _PROBE.css(text)
    except SelectolaxError as exc:
        raise ValueError(f"invalid CSS selector {text!r}") from exc
    return text


class Selectors(BaseModel):
    """CSS selectors for an HTML source: the listing's item links and the article parts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: str | None = Field(None, description="Listing page: elements that are or hold links.")
    title: str | None = Field(None, description="Article page: the headline.")
    author: str | None = Field(None, description="Article page: the byline.")
    date: str | None = Field(None, description="Article page: the publication date.")
    body: str | None = Field(None, description="Article page: the article body.")

    @field_validator("items", "title", "author", "date", "body")
    @classmethod
    def _css(cls, value: str | None) -> str | None:
        return None if value is None else check_css(value)


class SourceSpec(BaseModel):
    """One source as configured (validated, urls absolute)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    url: str
    kind: Literal["rss", "atom", "html", "auto"] = "auto"
    interval_s: float = Field(DEFAULT_INTERVAL_S, alias="interval", gt=0)
    tags: tuple[str, ...] = ()
    selectors: Selectors | None = None
    fetch_full: bool = False

    @field_validator("interval_s", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an absolute http(s) URL")
        # urlsplit reads the port only when asked, and the fetcher took any number: a port
        # past 65535 failed every poll as an internal error
        try:
            port = parts.port
        except ValueError:  # past 65535, or not a number (the text after the last ":")
            text = parts.netloc.rpartition(":")[2]
            if not text.isdigit():
                raise ValueError(f"port {text!r} is not a number in {value!r}") from None
            port = -1
        if port is not None and not 0 < port <= 65535:
            raise ValueError(f"port out of range 1-65535 in {value!r}")
        return value


_TOP_KEYS = ("base_url", "sources")
_SOURCE_KEYS = ("name", "url", "kind", "interval", "tags", "selectors", "fetch_full")
_SELECTOR_KEYS = tuple(Selectors.model_fields)


def load_sources(
    path: Path, *, base_url: str | None = None, default_interval: float = DEFAULT_INTERVAL_S
) -> list[SourceSpec]:
    """Read and validate a sources file; raise ``SourceFileError`` listing every problem."""
    try:
        located = load_file(path)
    except YamlProblem as exc:
        raise SourceFileError([exc.problem]) from exc
    return sources_from_located(located, base_url=base_url, default_interval=default_interval)


def sources_from_located(
    located: Located, *, base_url: str | None = None, default_interval: float = DEFAULT_INTERVAL_S
) -> list[SourceSpec]:
    problems: list[Problem] = []
    data = located.data
    if not isinstance(data, dict):
        raise SourceFileError([located.problem((), "expected a mapping with a `sources:` list")])
    problems += unknown_keys(located, (), data, _TOP_KEYS)
    base = base_url if base_url is not None else data.get("base_url")
    if base is not None and (not isinstance(base, str) or _scheme(base) not in ("http", "https")):
        problems.append(located.problem(("base_url",), "must be an absolute http(s) URL"))
        base = None
    raw_sources = data.get("sources")
    if not isinstance(raw_sources, list):
        problems.append(located.problem(("sources",), "expected a list of sources"))
        raise SourceFileError(problems)

    specs: list[SourceSpec] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_sources):
        kp: tuple[str | int, ...] = ("sources", i)
        if not isinstance(raw, dict):
            problems.append(located.problem(kp, "expected a mapping (name, url, ...)"))
            continue
        problems += unknown_keys(located, kp, raw, _SOURCE_KEYS)
        fields = {k: v for k, v in raw.items() if k in _SOURCE_KEYS}
        selectors = fields.get("selectors")
        if isinstance(selectors, dict):
            problems += unknown_keys(located, (*kp, "selectors"), selectors, _SELECTOR_KEYS)
            fields["selectors"] = {k: v for k, v in selectors.items() if k in _SELECTOR_KEYS}
        fields.setdefault("interval", default_interval)
        url = fields.get("url")
        if isinstance(url, str) and not _scheme(url):
            if base is None:
                problems.append(
                    located.problem((*kp, "url"), "relative url needs a top-level base_url")
                )
                continue
            fields["url"] = urljoin(base.rstrip("/") + "/", url.lstrip("/"))
        try:
            spec = SourceSpec.model_validate(fields)
        except ValidationError as exc:
            errors: list[Mapping[str, Any]] = [
                {**e, "loc": (*kp, *(_yaml_key(p) for p in e["loc"]))} for e in exc.errors()
            ]
            problems += pydantic_problems(located, errors)
            continue
        if spec.kind == "html" and (spec.selectors is None or spec.selectors.items is None):
            problems.append(
                located.problem((*kp, "selectors"), "an html source needs selectors.items")
            )
        if spec.name in seen:
            problems.append(
                located.problem(
                    (*kp, "name"),
                    f"duplicate source name {spec.name!r} (first at sources.{seen[spec.name]})",
                )
            )
        else:
            seen[spec.name] = i
        specs.append(spec)
    if problems:
        raise SourceFileError(problems)
    return specs


def _yaml_key(part: Any) -> Any:
    return "interval" if part == "interval_s" else part
