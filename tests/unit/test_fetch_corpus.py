"""Robustness sweep and seeded mutation fuzz over feedparser's own test corpus (P1, P3).

The corpus files carry ``Expect:`` lines (Python expressions for feedparser's own tests);
they are never evaluated here. ``Header:`` lines are passed as response headers.
"""

from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.fetch.feeds import ParsedFeed, parse_feed

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "feedparser"
PER_FILE_S = 2.0
URL = "http://corpus.example.org/feed/"
HEADER = re.compile(r"^Header:\s*([A-Za-z0-9-]+):\s*(.*?)\s*$", re.MULTILINE)


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"feedparser corpus not found at {CORPUS} (expected beside the project)")
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in (".xml", ".json"))


def headers_of(data: bytes) -> dict[str, str]:
    head = data[:4096].decode("latin-1")
    return {m.group(1): m.group(2) for m in HEADER.finditer(head)}


def clean_string(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def check_result(result: ParsedFeed, name: str) -> None:
    for article in result.articles:
        for value in (
            article.url,
            article.guid,
            article.title,
            article.text,
            article.author or "",
            article.published_raw or "",
            article.agent_name or "",
        ):
            assert isinstance(value, str) and clean_string(value), (name, value[:80])
        assert article.url.startswith(("http://", "https://")), (
            name,
            article.url,
        )
        assert article.published_at is None or article.published_at.tzinfo is not None
    for warning in result.warnings:
        assert clean_string(warning)


def parse_one(data: bytes, headers: dict[str, str], name: str) -> str:
    started = time.perf_counter()
    try:
        result = parse_feed(data, headers, URL)
    except ParseError as exc:
        outcome = f"error:{exc.kind}"
        assert clean_string(str(exc))
    else:
        check_result(result, name)
        outcome = "items" if result.articles else "empty"
    elapsed = time.perf_counter() - started
    assert elapsed < PER_FILE_S, f"{name} took {elapsed:.2f}s"
    return outcome


def test_every_corpus_file_gives_items_or_a_typed_error() -> None:
    files = corpus_files()
    outcomes: dict[str, int] = {}
    for path in files:
        data = path.read_bytes()
        outcome = parse_one(data, headers_of(data), str(path.relative_to(CORPUS)))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert sum(outcomes.values()) == len(files) > 2000
    # nearly all of the corpus is readable (many files test channel elements only, so
    # "empty" is a correct outcome); only a handful of truly broken files may fail
    errors = sum(n for k, n in outcomes.items() if k.startswith("error:"))
    assert errors < len(files) // 50, outcomes
    assert outcomes.get("items", 0) > 500, outcomes


def test_illformed_and_encoding_folders_keep_their_text() -> None:
    files = [p for p in corpus_files() if p.parent.name in ("encoding",)]
    titled = 0
    for path in files:
        data = path.read_bytes()
        try:
            result = parse_feed(data, headers_of(data), URL)
        except ParseError:
            continue
        titled += sum(1 for a in result.articles if a.title)
    assert titled > 0


_TOKENS = (
    b"&#x110000;",
    b"&#xD800;",
    b"&#0;",
    b"&\\x;",
    b"<![CDATA[",
    b"]]>",
    b"<!ENTITY x 'y'>",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"<item>",
    b"</item>",
    b"<entry>",
    b"&amp;",
    b"&nbsp;",
    b"<?xml version='1.0' encoding='utf-16'?>",
    b'srsName="EPSG:abc"',
    b"<link>javascript:x</link>",
    b"<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate>",
    b"<guid></guid>",
    b"\r\n",
    b"<" * 50,
)


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if not out:
            out += rng.choice(_TOKENS)
            continue
        op = rng.randrange(6)
        pos = rng.randrange(len(out))
        if op == 0:
            out[pos] = rng.randrange(256)
        elif op == 1:
            out[pos:pos] = rng.choice(_TOKENS)
        elif op == 2:
            del out[pos : pos + rng.randint(1, 64)]
        elif op == 3:
            out = out[:pos]  # truncation
        elif op == 4:
            end = min(len(out), pos + rng.randint(1, 256))
            out[pos:pos] = out[pos:end] * rng.randint(1, 4)  # duplicated run
        else:
            out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(out)


def test_seeded_mutation_fuzz_for_a_bounded_time() -> None:
    files = corpus_files()
    # 20 s in CI (issue 3, point 8); a shorter run keeps the local loop fast
    budget = 20.0 if os.environ.get("CI", "").lower() in ("1", "true", "yes") else 4.0
    rng = random.Random(20251206)
    deadline = time.monotonic() + budget
    runs = 0
    while time.monotonic() < deadline:
        path = rng.choice(files)
        data = path.read_bytes()
        parse_one(mutate(data, rng), headers_of(data), f"{path.name} (mutation {runs})")
        runs += 1
    assert runs > 100
