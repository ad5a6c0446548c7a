"""Extraction in worker processes, a batch ahead of the rest of the pipeline.

Extraction is a pure function of an article's text, its title and the vocabulary, and
about two fifths of the pipeline's CPU on a small history (less on a large one, where
placement and the rules' window grow). ``monitor ingest --jobs N`` runs it in N - 1
worker processes for the next batch while this process stores, places and evaluates the
current one, so a backfill uses more than one core. The results are the same objects
the in-process call gives, so what is stored is the same. A batch whose extraction
failed in a worker (a worker killed, out of memory) is extracted here instead; once the
pool is broken, every later batch is too.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from monitor.extract import extract
from monitor.values import Extraction, FetchedArticle, Vocabulary

log = logging.getLogger(__name__)

# Articles a worker is sent at once: enough that sending costs little against the
# extraction, small enough that several workers share one batch.
CHUNK = 50

_vocab: Vocabulary | None = None  # the worker's, sent once when it starts
_timeout = 0.05


def _start(vocab: Vocabulary, regex_timeout: float) -> None:
    global _vocab, _timeout
    # Ctrl-C is the command's to handle: it cancels what is queued and waits for the
    # workers, which would otherwise each print a traceback of their own
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _vocab, _timeout = vocab, regex_timeout


def _extract(items: Sequence[tuple[str, str]]) -> list[Extraction]:
    assert _vocab is not None
    return [extract(text, title, _vocab, regex_timeout=_timeout) for text, title in items]


class Extracted:
    """One batch's extraction under way in the workers."""

    def __init__(self, vocab: Vocabulary, parts: list[Future[list[Extraction]]]) -> None:
        self.vocab = vocab
        self._parts = parts

    def result(self) -> list[Extraction] | None:
        """The batch's extractions in order; None when a worker failed."""
        out: list[Extraction] = []
        try:
            for part in self._parts:
                out.extend(part.result())
        except Exception as exc:  # a worker died or raised: the caller extracts here
            log.warning("extraction in a worker process failed (%s): extracting here", exc)
            for part in self._parts:
                part.cancel()
            return None
        return out


class ExtractPool:
    """``workers`` processes extracting with ``vocab``; ``close`` when done."""

    def __init__(self, vocab: Vocabulary, *, workers: int, regex_timeout: float) -> None:
        self.vocab = vocab
        self.broken = False
        self._pool: ProcessPoolExecutor | None = None
        try:
            # spawn: workers start from a clean process, not a copy of this one with its
            # threads and open database connections; and they are this process's
            # children, so their CPU time counts in its own (forkserver's: the server's)
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(vocab, regex_timeout),
            )
        except OSError as exc:  # no semaphores or pipes to be had
            log.warning("the extraction workers cannot start (%s): extracting here", exc)
            self.broken = True

    def submit(self, items: Sequence[FetchedArticle]) -> Extracted | None:
        """Start extracting ``items``; None once the pool has failed (extract here)."""
        if self.broken or self._pool is None:
            return None
        pairs = [(it.text, it.title) for it in items]
        try:
            parts = [
                self._pool.submit(_extract, pairs[i : i + CHUNK])
                for i in range(0, len(pairs), CHUNK)
            ]
        except (RuntimeError, OSError) as exc:  # a worker died earlier; none could start
            log.warning("no extraction worker to send to (%s): extracting here", exc)
            self.broken = True
            return None
        return Extracted(self.vocab, parts)

    def close(self) -> None:
        """Drop what is queued; wait for the workers to finish what they began and exit."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
