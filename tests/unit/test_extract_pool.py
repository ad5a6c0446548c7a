"""The extraction workers of `monitor ingest --jobs`: what a batch does when none can
take it (the command-level tests are in tests/integration/test_ingest_jobs.py)."""

from __future__ import annotations

import errno
import logging
import multiprocessing.context

import pytest

from monitor.app.extract_pool import ExtractPool
from monitor.extract import extract
from monitor.values import FetchedArticle, Vocabulary

ARTICLE = FetchedArticle(
    url="https://example.test/a",
    guid="a",
    title="Acme plans $53 billion",
    text="Acme said on Monday it will spend $53 billion on cloud and AI over three years.",
)


@pytest.fixture
def no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting a process fails as fork does when the user's process limit is reached."""

    def start(self: object) -> None:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", start)


def test_workers_that_cannot_start_leave_the_batch_to_this_process(
    no_process: None, caplog: pytest.LogCaptureFixture
) -> None:
    pool = ExtractPool(Vocabulary(), workers=1, regex_timeout=0.05)
    try:
        with caplog.at_level(logging.WARNING):
            assert pool.submit([ARTICLE]) is None
            assert pool.broken
            assert pool.submit([ARTICLE]) is None  # not tried again
    finally:
        pool.close()
    assert "extracting here" in caplog.text


def test_a_pool_sends_back_what_this_process_would_make() -> None:
    vocab = Vocabulary()
    pool = ExtractPool(vocab, workers=1, regex_timeout=0.05)
    try:
        started = pool.submit([ARTICLE, ARTICLE])
        assert started is not None
        got = started.result()
    finally:
        pool.close()
    assert got == [extract(ARTICLE.text, ARTICLE.title, vocab)] * 2
    assert got[0].facts  # the $53 billion


def test_a_pool_without_semaphores_is_not_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No /dev/shm (some containers): the queues to the workers cannot be made."""

    def semaphore(self: object, value: int = 1) -> None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/dev/shm")

    monkeypatch.setattr(multiprocessing.context.BaseContext, "BoundedSemaphore", semaphore)
    with caplog.at_level(logging.WARNING):
        pool = ExtractPool(Vocabulary(), workers=1, regex_timeout=0.05)
    assert pool.broken
    assert pool.submit([ARTICLE]) is None
    pool.close()
    assert "cannot start" in caplog.text
