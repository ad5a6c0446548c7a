"""The fetcher the pipeline calls: one polite, guarded httpx client for every source.

``Fetcher.poll(source, validators)`` does one conditional GET and returns a
:class:`PollResult`; every failure is a ``FetchError``/``ParseError`` with a ``kind``.
What the caller does with them (one transaction per poll) is described on
:class:`PollResult`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType

import httpx

from monitor.errors import FetchError, ParseError
from monitor.fetch.feeds import has_own_page, looks_like_feed, parse_feed
from monitor.fetch.http import (
    ACCEPT_FEED,
    ACCEPT_PAGE,
    Fetched,
    SafeGetter,
    cache_lifetime,
    header_safe,
    validators_unreliable,
)
from monitor.fetch.pages import extract_article, extract_listing
from monitor.fetch.sniff import binary_kind
from monitor.fetch.source_file import Selectors, SourceSpec
from monitor.fetch.workers import ParsePool
from monitor.net.client import guarded_client
from monitor.net.guard import AddressPolicy, Resolver, system_resolver
from monitor.net.retry_after import retry_after_seconds
from monitor.settings import HttpSettings
from monitor.values import FetchedArticle


@dataclass(frozen=True, slots=True)
class Validators:
    """What a source's last successful poll left to make the next one conditional."""

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None  # sha256 of the body: some servers keep stale ETags


@dataclass(frozen=True, slots=True)
class PollResult:
    """One successful poll.

    The caller, in ONE transaction: store ``articles`` (insert-if-absent on
    ``(source, guid)``), save ``validators``, reset the error count, set the next poll
    with ``next_poll_delay(interval, 0, min_interval_s=min_interval_s)``, and log the
    ``warnings``. ``not_modified`` means a 304 or an unchanged body: no articles, still a
    success. ``partial`` means the body was malformed or some pages failed: store what
    came, never treat missing items as deleted (when pages failed, ``validators`` are the
    old ones, so the next poll retries them; a ``fetch_full`` item whose page may still
    come is left out until it does).
    """

    not_modified: bool
    articles: tuple[FetchedArticle, ...]
    validators: Validators
    min_interval_s: float | None = None  # Cache-Control max-age or feed <ttl>
    warnings: tuple[str, ...] = ()
    partial: bool = False
    # the article pages fetched (an HTML listing's, a fetch_full feed's), at the address
    # each was fetched at: an article's url is its page's canonical link, maybe elsewhere
    pages: tuple[str, ...] = ()


class Fetcher:
    """Owns one ``httpx.AsyncClient``; use as ``async with Fetcher(settings.http) as f``."""

    def __init__(
        self,
        http: HttpSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        rng: random.Random | None = None,
        parse_workers: int | None = None,
        parse_timeout: float | None = None,
    ) -> None:
        """Build the client.

        ``transport`` replaces the network (httpx.MockTransport or respx in tests); the
        SSRF guard then checks each hop's literal address, and its DNS answers when a
        ``resolver`` is given too. ``resolver(host, port)`` replaces system DNS (the
        benchmark maps many names to 127.0.0.1). ``parse_workers`` > 0 parses in that
        many worker processes (all cores, a per-parse time limit, crash isolation);
        0 parses in a thread. Both default to the settings.
        """
        self._http = http
        self._parsers = ParsePool(
            (http.parse_workers or 0) if parse_workers is None else parse_workers,
            timeout_s=http.parse_timeout if parse_timeout is None else parse_timeout,
        )
        policy = AddressPolicy(http.allow_networks)
        real_transport = transport is None
        self._client = guarded_client(http, transport=transport, resolver=resolver)
        self._getter = SafeGetter(
            self._client,
            http,
            policy,
            resolver or system_resolver,
            # an injected transport connects nowhere, so the guarded backend never sees an
            # address: the resolver given with it (tests' fake DNS) is checked per hop
            # instead. Without one, only literal addresses are checked, so a test fake
            # never triggers a real DNS lookup.
            check_dns_per_hop=not real_transport and resolver is not None,
            rng=rng,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        try:
            await self._client.aclose()
        finally:
            await self._parsers.aclose()

    # ------------------------------------------------------------------------ poll

    async def poll(
        self,
        source: SourceSpec,
        validators: Validators,
        *,
        seen: Collection[str] = frozenset(),
    ) -> PollResult:
        """Fetch ``source`` once, conditionally.

        ``seen`` holds the guids already stored for this source: listing items and
        ``fetch_full`` feed items in it are not fetched again. Raises ``FetchError`` or
        ``ParseError`` (kind, and ``retry_after`` on 429/503).
        """
        headers = {"Accept": ACCEPT_FEED if source.kind != "html" else ACCEPT_PAGE}
        # a validator stored before it was checked, and that cannot be sent, is dropped:
        # the poll goes ahead unconditionally instead of failing at every try
        validators = replace(
            validators,
            etag=header_safe(validators.etag),
            last_modified=header_safe(validators.last_modified),
        )
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        response = await self._getter.get(source.url, headers)
        min_interval = cache_lifetime(response.headers)

        if response.status == 304:
            if "If-None-Match" not in headers and "If-Modified-Since" not in headers:
                # nothing was asked conditionally: a 304 says nothing of the feed, and
                # taken as "unchanged" it hid a source that never gave anything
                raise FetchError(
                    "unexpected_not_modified",
                    "304 Not Modified to a request that sent no validator",
                    url=source.url,
                )
            # RFC 9110 15.4.5: a 304 may refresh validators; keep the old ones otherwise
            kept = Validators(
                etag=header_safe(response.headers.get("etag")) or validators.etag,
                last_modified=header_safe(response.headers.get("last-modified"))
                or validators.last_modified,
                content_hash=validators.content_hash,
            )
            return PollResult(True, (), kept, min_interval)
        _raise_for_status(response)
        if not response.body.strip():
            raise ParseError("empty_body", "the server sent an empty body", url=response.url)

        digest = "sha256:" + hashlib.sha256(response.body).hexdigest()
        # only validators that can be sent back are kept (see header_safe)
        fresh = Validators(
            etag=header_safe(response.headers.get("etag")),
            last_modified=header_safe(response.headers.get("last-modified")),
            content_hash=digest,
        )
        if validators_unreliable(response.headers):
            fresh = Validators(content_hash=digest)
        if digest == validators.content_hash:
            return PollResult(True, (), fresh, min_interval)

        kind = source.kind
        if kind == "auto":
            kind = "rss" if looks_like_feed(response.body) else "html"
        if kind == "html":
            if source.selectors is None or not source.selectors.items:
                binary = binary_kind(response.body)
                if binary is not None:  # not an HTML page either
                    raise ParseError("not_text", f"{binary}, not a feed", url=response.url)
                raise ParseError(
                    "not_a_feed",
                    "got an HTML page and the source has no listing selectors",
                    url=response.url,
                )
            return await self._poll_listing(source, response, fresh, validators, min_interval, seen)

        parsed = await self._parsers.run(
            parse_feed, response.body, dict(response.headers), response.url, url=response.url
        )
        if parsed.ttl_s is not None:
            min_interval = max(min_interval or 0.0, parsed.ttl_s)
        articles = parsed.articles
        warnings = list(parsed.warnings)
        partial = parsed.partial
        pages: tuple[str, ...] = ()
        if source.fetch_full:
            full, more_warnings, pages = await self._fill_full(articles, source.selectors, seen)
            warnings += more_warnings
            partial = partial or bool(more_warnings)
            if len(full) < len(articles):
                # items withheld until their page comes: the old validators make the next
                # poll read the feed again and fetch those pages (the stored are in `seen`)
                fresh = validators
            articles = full
        return PollResult(False, articles, fresh, min_interval, tuple(warnings), partial, pages)

    async def _poll_listing(
        self,
        source: SourceSpec,
        response: Fetched,
        fresh: Validators,
        previous: Validators,
        min_interval: float | None,
        seen: Collection[str],
    ) -> PollResult:
        assert source.selectors is not None
        items = await self._parsers.run(
            extract_listing,
            response.body,
            dict(response.headers),
            response.url,
            source.selectors,
            url=response.url,
        )
        new = [item for item in items if item.url not in seen]
        wanted = new[:PAGES_PER_POLL]
        results = await asyncio.gather(
            *(self.fetch_article(item.url, source.selectors, guid=item.url) for item in wanted),
            return_exceptions=True,
        )
        articles: list[FetchedArticle] = []
        warnings: list[str] = []
        first_error: BaseException | None = None
        for item, result in zip(wanted, results, strict=True):
            if isinstance(result, FetchedArticle):
                articles.append(result if result.title else replace(result, title=item.title))
            elif isinstance(result, FetchError):
                warnings.append(f"{item.url}: {result}")
                first_error = first_error or result
            elif isinstance(result, BaseException):
                raise result
        if wanted and not articles and first_error is not None:
            raise first_error  # every page failed: that is the source failing, not a warning
        failed = bool(warnings)
        if len(new) > len(wanted):
            warnings.append(_later(len(new) - len(wanted)))
        # with pages missing or left for later, the old validators are kept so the
        # unchanged listing is read again next time and those pages fetched (the stored
        # ones are in `seen`)
        kept = previous if warnings else fresh
        pages = tuple(
            i.url for i, r in zip(wanted, results, strict=True) if isinstance(r, FetchedArticle)
        )
        return PollResult(
            False, tuple(articles), kept, min_interval, tuple(warnings), failed, pages
        )

    async def _fill_full(
        self,
        articles: tuple[FetchedArticle, ...],
        selectors: Selectors | None,
        seen: Collection[str],
    ) -> tuple[tuple[FetchedArticle, ...], list[str], tuple[str, ...]]:
        """The feed's items with their pages' text, the warnings of pages not fetched,
        and the addresses of those fetched.

        An item whose page failed in a way that may heal (a timeout, a 5xx) is left out,
        for ``FULL_RETRY`` after its publication: its summary, once stored, would be in
        ``seen`` and its page never fetched again. One whose page will not come (a 404, a
        refused address), an older one and one without a date keep their summary. Past
        ``PAGES_PER_POLL`` new items, the rest are left out too, for the next polls."""
        todo = [a for a in articles if has_own_page(a.url) and a.guid not in seen]
        withheld: set[str] = {a.guid for a in todo[PAGES_PER_POLL:]}
        todo = todo[:PAGES_PER_POLL]
        pages = await asyncio.gather(
            *(self.fetch_article(a.url, selectors, guid=a.guid) for a in todo),
            return_exceptions=True,
        )
        full: dict[str, FetchedArticle] = {}
        warnings: list[str] = [_later(len(withheld))] if withheld else []
        for article, page in zip(todo, pages, strict=True):
            if isinstance(page, FetchedArticle):
                full[article.guid] = replace(
                    page,
                    guid=article.guid,
                    title=article.title or page.title,
                    author=article.author or page.author,
                    published_at=article.published_at or page.published_at,
                    published_raw=article.published_raw or page.published_raw,
                    ai_generated=article.ai_generated or page.ai_generated,
                    agent_name=article.agent_name or page.agent_name,
                    language=article.language or page.language,
                    summary_only=False,
                )
            elif isinstance(page, FetchError) and _may_heal(page) and _young(article):
                withheld.add(article.guid)
                warnings.append(f"{article.url}: full page not fetched, retried next poll: {page}")
            elif isinstance(page, FetchError):
                warnings.append(f"{article.url}: full page not fetched, kept the summary: {page}")
            elif isinstance(page, BaseException):
                raise page
        fetched = tuple(a.url for a in todo if a.guid in full)
        kept = tuple(full.get(a.guid, a) for a in articles if a.guid not in withheld)
        return kept, warnings, fetched

    # ---------------------------------------------------------------------- pages

    async def fetch_article(
        self, url: str, selectors: Selectors | None, *, guid: str | None = None
    ) -> FetchedArticle:
        """Fetch and extract one article page (HTML listings and ``fetch_full``)."""
        response = await self.get_page(url)
        if not response.body.strip():
            raise ParseError("empty_body", "the server sent an empty page", url=response.url)
        return await self._parsers.run(
            functools.partial(extract_article, guid=guid),
            response.body,
            dict(response.headers),
            response.url,
            selectors,
            url=response.url,
        )

    async def get_page(self, url: str) -> Fetched:
        """One page as an article page is fetched: asked for as HTML, an error status
        raised as a ``FetchError``."""
        response = await self._getter.get(url, {"Accept": ACCEPT_PAGE})
        _raise_for_status(response)
        return response

    async def get(self, url: str, headers: Mapping[str, str] | None = None) -> Fetched:
        """A guarded GET for other callers (``monitor sources check``): body capped."""
        return await self._getter.get(url, headers or {})


def _raise_for_status(response: Fetched) -> None:
    """Non-2xx as a typed error; 304 never gets here (it is success, unlike httpx's)."""
    status = response.status
    if 200 <= status < 300:
        return
    if status in REDIRECT_WITHOUT_LOCATION:
        raise FetchError(
            "http_status", f"HTTP {status} without Location", url=response.url, status=status
        )
    if status == 403 and _is_challenge(response):
        raise FetchError(
            "challenge",
            "the host answered with a bot challenge page",
            url=response.url,
            status=status,
        )
    retry_after = None
    if status in (429, 503):
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
    hint = " (gone: consider removing the source)" if status == 410 else ""
    raise FetchError(
        "http_status",
        f"HTTP {status}{hint}",
        url=response.url,
        status=status,
        retry_after=retry_after,
    )


REDIRECT_WITHOUT_LOCATION = frozenset({301, 302, 303, 307, 308})

# Pages a poll fetches at most (a listing's new links, a fetch_full feed's new items): all
# of them were fetched at once and held until the last came, 30 pages of 4 MB 284 MB and a
# poll of hundreds of slow links hours long. The rest are fetched at the next polls.
PAGES_PER_POLL = 50


def _later(n: int) -> str:
    return f"{n} more new page(s) than a poll fetches ({PAGES_PER_POLL}): left for the next poll"


# failures of a page that a later try may not meet (no answer, or a cut one)
_TRANSIENT_KINDS = frozenset(
    {"timeout_total", "connect_timeout", "read_timeout", "timeout", "connect_error",
     "protocol_error", "network", "dns"}
)  # fmt: skip


# How long after its publication an item whose page failed is left for the next polls,
# its page fetched again; then (or with no date) its summary is kept, as for a page that
# will not come: a page that fails for good (a 500 for ever) kept its item out, never
# stored, and the feed read whole at every poll.
FULL_RETRY = timedelta(hours=6)


def _young(article: FetchedArticle) -> bool:
    at = article.published_at
    return at is not None and datetime.now(UTC) - at < FULL_RETRY


def _may_heal(error: FetchError) -> bool:
    """Whether a page that failed so may come next time: no answer, 408, 429 or a 5xx;
    not a page that is gone, refused by the guard, too large or unreadable."""
    if error.status is not None:
        return error.status >= 500 or error.status in (408, 429)
    return error.kind in _TRANSIENT_KINDS and not isinstance(error, ParseError)


def _is_challenge(response: Fetched) -> bool:
    if response.headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    head = response.body[:8192].lower()
    return b"just a moment" in head or b"cf-chl" in head or b"challenge-platform" in head
