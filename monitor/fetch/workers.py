"""Where CPU-bound parsing runs: a thread (default) or a pool of worker processes.

Parsing a feed (feedparser, ~1 ms per item) or a page (Lexbor) holds the GIL, so on the
event loop it would stall every other fetch. A thread keeps the loop responsive. Worker
processes add what a thread cannot (RELIABILITY.md P3, P8):

* parsing on every core;
* a per-parse time limit, enforced inside the worker by a timer signal and, as a
  backstop, by the parent killing a worker that does not answer (the pool cannot kill
  one worker alone: the parses running in the others are run once more);
* a memory limit (``RLIMIT_AS``) so a hostile document cannot exhaust the host;
* isolation: a native crash (a segfault in a C parser) kills one worker, becomes
  ``ParseError(kind="native_crash")``, and the pool is rebuilt.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from monitor import memory
from monitor.errors import FetchError, ParseError

T = TypeVar("T")
_Outcome = tuple[str, Any]


class ParsePool:
    """Runs pure parse functions off the event loop; use ``async with`` or ``aclose()``."""

    def __init__(
        self,
        processes: int = 0,
        *,
        timeout_s: float = 20.0,
        memory_mb: int = 1024,
        backstop_s: float = 5.0,
    ) -> None:
        """``backstop_s``: how long past ``timeout_s`` a worker that does not answer (stuck
        in C code, where its own timer cannot fire) is given before it is killed."""
        self.processes = processes
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.backstop_s = backstop_s
        self._executor: ProcessPoolExecutor | None = None
        # one parse per worker at a time: the time limit then counts a parse's own run,
        # not its wait behind others (a queued parse was timed out, and an innocent
        # worker killed)
        self._slots = asyncio.Semaphore(max(processes, 1))
        # pools whose workers this pool killed (a parse over its time limit): a parse
        # that was running beside it in another worker is not at fault, and is run again
        self._killed: weakref.WeakSet[ProcessPoolExecutor] = weakref.WeakSet()
        self._closed = False  # by aclose: no pool is started after it

    async def run(self, fn: Callable[..., T], *args: Any, url: str | None = None) -> T:
        """``fn(*args)``; its ``FetchError`` is re-raised here with kind, url and message."""
        if self.processes <= 0:
            return await asyncio.to_thread(fn, *args)
        await self._slots.acquire()
        holds_slot = True  # until the end, unless a worker still parses for a caller gone
        try:
            for attempt in (1, 2):
                executor, job = self._submit(fn, args, url)
                # the worker's own timer fires first; this backstop catches one stuck in C
                deadline = asyncio.get_running_loop().time() + self.timeout_s + self.backstop_s
                try:
                    async with asyncio.timeout_at(deadline):
                        kind, value = await asyncio.wrap_future(job)
                    break
                except TimeoutError as exc:
                    self._discard(executor, kill=True)
                    raise ParseError(
                        "parse_timeout", f"parsing took over {self.timeout_s:g}s", url=url
                    ) from exc
                except BrokenProcessPool as exc:
                    self._discard(executor, kill=False)
                    if self._closed:
                        raise ParseError(
                            "stopped", "the parser processes were stopped", url=url
                        ) from exc
                    if attempt == 1 and executor in self._killed:
                        continue  # killed for another parse's time limit, not for this one
                    raise ParseError(
                        "native_crash", "the parser process died (killed or crashed)", url=url
                    ) from exc
                except asyncio.CancelledError:
                    if not job.done():
                        # the worker goes on parsing: its slot is free when it is done, or
                        # the next parse would wait behind it on its own time limit; and
                        # the backstop still kills it at the deadline if it is stuck in C
                        holds_slot = False
                        job.add_done_callback(_release_later(self._slots))
                        asyncio.get_running_loop().call_at(deadline, self._backstop, executor, job)
                    raise
        finally:
            if holds_slot:
                self._slots.release()
        if kind == "ok":
            return value  # type: ignore[no-any-return]
        raise _rebuild(value, url)

    def _backstop(self, executor: ProcessPoolExecutor, job: Future[_Outcome]) -> None:
        """A parse whose caller left, still running at its deadline: stuck in C code."""
        if not job.done():
            self._discard(executor, kill=True)

    def _submit(
        self, fn: Callable[..., Any], args: tuple[Any, ...], url: str | None
    ) -> tuple[ProcessPoolExecutor, Future[_Outcome]]:
        """The parse handed to a worker. A pool whose worker died while idle (the OOM
        killer, an operator's kill) refuses every task: it is replaced, once, instead of
        failing every later parse until a restart."""
        if self._closed:
            raise ParseError("stopped", "the parser processes were stopped", url=url)
        for attempt in (1, 2):
            executor = self._pool()
            try:
                return executor, executor.submit(_invoke, fn, args, self.timeout_s)
            except (BrokenProcessPool, RuntimeError) as exc:  # RuntimeError: shut down
                self._discard(executor, kill=False)
                if attempt == 2:
                    raise ParseError(
                        "native_crash", "no parser process could be started", url=url
                    ) from exc
        raise AssertionError("unreachable")

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn: a fresh interpreter, safe whatever threads the daemon runs
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.memory_mb,),
            )
        return self._executor

    def _discard(self, executor: ProcessPoolExecutor, *, kill: bool) -> None:
        """Stop a pool for good. ``kill``: this pool killed it (a parse over its time
        limit), so the parses beside it are not at fault. Its workers are killed either
        way: the executor stops a broken pool's workers with SIGTERM, which they ignore,
        so one stuck in C code would live on and hold the interpreter's exit."""
        if self._executor is executor:
            self._executor = None
        if kill:
            self._killed.add(executor)
        _kill_workers(executor)
        executor.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        """Stop the workers: a parse under way gets its time limit to end, then its worker
        is killed (one stuck in C code would otherwise hold the stop for ever). No parse
        starts a pool after it."""
        self._closed = True
        if self._executor is None:
            return
        executor, self._executor = self._executor, None
        stopping = asyncio.ensure_future(
            asyncio.to_thread(executor.shutdown, True, cancel_futures=True)
        )
        try:
            async with asyncio.timeout(self.timeout_s + self.backstop_s):
                await asyncio.shield(stopping)
        except TimeoutError:
            _kill_workers(executor)
            await stopping


def _release_later(slots: asyncio.Semaphore) -> Callable[[Future[_Outcome]], None]:
    """A callback, run in the pool's thread when a parse whose caller left ends, that
    frees its slot on the loop (unless the loop has closed meanwhile)."""
    loop = asyncio.get_running_loop()

    def done(_: Future[_Outcome]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(slots.release)

    return done


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    # ProcessPoolExecutor cannot cancel a running task; its workers are killed so a parser
    # stuck in C code does not keep burning a core. ``_processes`` is the only handle on
    # them (CPython 3.11); it is None once the pool has shut down.
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        process.kill()


def _start_worker(memory_mb: int) -> None:
    """In each worker: a memory limit, and deaf to SIGINT and SIGTERM. Ctrl-C reaches the
    terminal's whole process group and a service manager may signal every process of
    the service: the parent decides when its workers end (a worker killed under a parse
    made that source's poll a native_crash). A worker whose parent is gone (killed
    outright) ends itself: nothing else would, its queue never reporting an end."""
    import resource
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    threading.Thread(target=_end_with_parent, args=(os.getppid(),), daemon=True).start()
    limit = memory_mb * 1024 * 1024
    # a hard limit already lower than ours stays in force
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _die_with_parent() -> None:
    """On Linux, the kernel kills this worker when the thread that started it ends: a
    worker stuck in C code never lets the watching thread below take the GIL. The pool
    starts its workers from the event loop's thread, the main one, which ends only with
    the process."""
    if sys.platform != "linux":
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _end_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


class _Deadline(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Deadline


# A body this large leaves a worker's heap large (a 38 MB feed: 137 MB idle, 42 before):
# the next parse first gives that memory back (monitor.memory)
LARGE_BODY = 4 * 1024 * 1024
_after_large = False


def _invoke(fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float) -> _Outcome:
    """Runs in the worker: call ``fn`` under a timer and return a picklable outcome.

    Exceptions are flattened to plain values: ``FetchError`` cannot be pickled back as is
    (its constructor takes keyword arguments that ``args`` does not carry).
    """
    global _after_large
    if _after_large:  # the last parse, and its result once sent, are garbage by now
        memory.give_back()
    _after_large = any(isinstance(a, bytes) and len(a) >= LARGE_BODY for a in args)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return "ok", fn(*args)
    except _Deadline:
        return "error", ("ParseError", "parse_timeout", f"parsing took over {timeout_s:g}s", None)
    except MemoryError:
        return "error", ("ParseError", "too_large", "the document needs too much memory", None)
    except FetchError as exc:
        return "error", (type(exc).__name__, exc.kind, _message(exc), getattr(exc, "payload", None))
    except Exception as exc:  # a parser bug must not take the worker down
        return "error", ("ParseError", "parse", f"{type(exc).__name__}: {exc}"[:300], None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _message(exc: FetchError) -> str:
    text = str(exc)
    prefix = f"{exc.kind}: "
    suffix = f" ({exc.url})" if exc.url else ""
    if text.startswith(prefix):
        text = text[len(prefix) :]
    if suffix and text.endswith(suffix):
        text = text[: -len(suffix)]
    return text


def _rebuild(value: tuple[str, str, str, bytes | None], url: str | None) -> ParseError:
    name, kind, message, payload = value
    if name == "ParserCrash" and payload is not None:
        from monitor.fetch.feeds import ParserCrash

        return ParserCrash(message, url=url or "", payload=payload)
    return ParseError(kind, message, url=url)
