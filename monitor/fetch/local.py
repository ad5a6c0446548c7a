"""Local files as articles, for ``monitor ingest PATH...``.

``.txt`` (page text saved without markup) and ``.html``/``.htm`` files are one article
each; ``.xml`` (and ``.rss``, ``.atom``, ``.rdf``) is a feed whose entries are articles.
An article's url is the file's ``file://`` URI, except feed entries that carry their own
http(s) link; other entries get the file's URI with ``#entry=<key>`` so that each stays a
distinct article. The same cleaning as fetched pages applies, so an ingested copy and a
fetched copy of one page give the same text.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from monitor.errors import IngestError, ParseError
from monitor.fetch.clean import clean_plain_text, first_sentence
from monitor.fetch.feeds import parse_feed
from monitor.fetch.pages import decode_html, extract_article
from monitor.fetch.sniff import NOT_TEXT_SHARE, binary_kind
from monitor.values import FetchedArticle

SUFFIXES = (".txt", ".html", ".htm", ".xml", ".rss", ".atom", ".rdf")
# One file's cap, as a fetched body's (MONITOR_HTTP__MAX_BODY_BYTES, which `monitor ingest`
# passes): a 45 MB text file took ~1.2 GB to read, clean and extract as one article.
MAX_FILE_BYTES = 10 * 1024 * 1024


def files_under(folder: Path) -> Iterator[Path]:
    """The supported files under ``folder``, at any depth, in name order (the order of
    their paths sorted), one folder listed at a time: a list of every path of a
    100,000-file tree held ~38 MB through the whole ingest. Like ``Path.rglob``, a
    symlink to a folder is not followed. What cannot be read is yielded all the same, so
    that ``read_local`` reports it rather than it being skipped without a word: a folder
    that cannot be listed, and an entry of a supported type that is no regular file (a
    dangling link, a link loop, a pipe)."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError:
        yield folder
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from files_under(Path(entry.path))
                continue
            if entry.is_symlink() and entry.is_dir():
                continue  # a link to a folder, whatever its name: not followed
        except OSError:  # gone or unreadable since the listing
            pass
        if os.path.splitext(entry.name)[1].lower() in SUFFIXES:
            yield Path(entry.path)


def read_local(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> list[FetchedArticle]:
    """Articles from one file; a file that cannot be read as one is an ``IngestError``
    naming it (a folder, a pipe or device, an unsupported type, a file over
    ``max_bytes``, a binary or undecodable file)."""
    if path.is_dir():
        try:
            os.scandir(path).close()
        except OSError as exc:
            raise IngestError(f"{path}: cannot list the folder: {exc.strerror or exc}") from exc
        raise IngestError(f"{path}: is a folder")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise IngestError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; "
            "use .txt, .html, .htm or a feed (.xml, .rss, .atom, .rdf)"
        )
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a named pipe would block the read for ever
            raise IngestError(f"{path}: not a regular file (a pipe, socket or device)")
        if st.st_size > max_bytes:
            raise IngestError(
                f"{path}: {st.st_size:,} bytes, over the cap of {max_bytes:,} on one file"
                " (MONITOR_HTTP__MAX_BODY_BYTES)"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    uri = path.resolve().as_uri()
    if suffix in (".txt", ".html", ".htm") and (binary := binary_kind(data)) is not None:
        raise IngestError(f"{path}: a binary file, not text ({binary})")
    try:
        if suffix == ".txt":
            return [_from_text(data, uri, path)]
        if suffix in (".html", ".htm"):
            article = extract_article(data, {}, uri, None, guid=uri)
            return [replace(article, url=uri, guid=uri)]
        parsed = parse_feed(data, {}, uri)
    except ParseError as exc:
        raise IngestError(f"{path}: {exc}") from exc
    # entries without an http(s) link get the file's URI with the entry key as fragment
    return list(parsed.articles)


def _text_of(data: bytes, path: Path) -> str:
    text = decode_html(data, {})
    # more characters no encoding could read than text has: a mangled file
    if text and text.count("\ufffd") / len(text) > NOT_TEXT_SHARE:
        raise IngestError(f"{path}: not readable as text in any known encoding")
    return text


def _from_text(data: bytes, uri: str, path: Path) -> FetchedArticle:
    cleaned = clean_plain_text(_text_of(data, path))
    if not cleaned.text and not cleaned.title:
        raise IngestError(f"{path}: no article text in the file")
    text = cleaned.text or (cleaned.title or "")
    return FetchedArticle(
        url=uri,
        guid=uri,
        title=cleaned.title or first_sentence(text),
        text=text,
        author=cleaned.author,
        published_at=cleaned.published_at,
        published_raw=cleaned.published_raw,
        ai_generated=cleaned.ai_generated,
        agent_name=cleaned.agent_name,
    )
