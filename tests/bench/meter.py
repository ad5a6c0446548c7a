"""Where the pipeline's CPU time goes, for the pipeline benchmark (issue 16, point 1).

The batch flow times its stages itself (``BatchReport.stages``). This meter adds what a
stage's time is made of: the stages' own work (the pure functions of extraction, dedup
and the rule engine), the SQL driver's time and the number of statements. It wraps
those functions where the application calls them; time is exclusive (a statement run
inside a pure function counts as SQL, not as the function), this thread's CPU time. The
garbage collector's time is counted apart, inside whichever region it fell in.
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from monitor.app import batches, evaluation, placement
from monitor.dedup import minhash, near, restatement, story, story_codec, story_members, text_vector
from monitor.store import plain_sql


class Meter:
    def __init__(self) -> None:
        self.own: dict[str, float] = defaultdict(float)
        self.statements = 0
        self.gc = 0.0  # CPU seconds in garbage collections, whichever region they fell in
        self._gc_started = 0.0
        self._stack: list[list[Any]] = []  # [category, started, time of nested regions]

    def _enter(self, category: str) -> bool:
        if self._stack and self._stack[-1][0] == category:
            return False
        self._stack.append([category, time.thread_time(), 0.0])
        return True

    def _leave(self) -> None:
        category, started, nested = self._stack.pop()
        spent = time.thread_time() - started
        self.own[category] += spent - nested
        if self._stack:
            self._stack[-1][2] += spent

    def wrap(self, category: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self._enter(category):
                return fn(*args, **kwargs)
            try:
                return fn(*args, **kwargs)
            finally:
                self._leave()

        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        return timed

    def reset(self) -> None:
        self.own.clear()
        self.statements = 0
        self.gc = 0.0

    def collecting(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.thread_time()
        else:
            self.gc += time.thread_time() - self._gc_started


_PURE = {
    "dedup": [
        (minhash, ["shingles", "signature_of", "band_keys"]),
        (near, ["find_near"]),
        (
            story,
            [
                "profile",
                "weighed",
                "matching_stories",
                "bridges",
                "stories_agree",
                "company_of",
                "words_meet",
            ],
        ),
        (story_codec, ["encode_story", "decode_story", "decode_centroid"]),
        (
            story_members,
            ["joined", "first_member", "merged", "fact_keys", "figure_spans", "new_flags"],
        ),
        (restatement, ["headline_figures", "restates"]),
        (text_vector, ["cosine"]),
    ],
    "rules": [(evaluation, ["evaluate"])],
    "extract": [(batches, ["extract"])],
}


@contextmanager
def metered(engine: sa.Engine) -> Iterator[Meter]:
    """Install the meter on the application's calls and ``engine``; undo on exit."""
    meter = Meter()
    undo: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, category: str) -> None:
        fn = getattr(owner, name)
        undo.append((owner, name, fn))
        setattr(owner, name, meter.wrap(category, fn))

    for category, groups in _PURE.items():
        for module, names in groups:
            for name in names:
                patch(module, name, category)
    # the app reaches the dedup functions as module attributes (read from its namespace:
    # placement does not export the name)
    assert vars(placement)["story"] is story
    for name in ("rows", "run", "run_many"):
        fn = getattr(plain_sql.PlainSql, name)

        def counted(self: Any, *args: Any, _fn: Any = fn) -> Any:
            meter.statements += 1
            return _fn(self, *args)

        undo.append((plain_sql.PlainSql, name, fn))
        setattr(plain_sql.PlainSql, name, meter.wrap("sql", counted))

    def before(*_: Any) -> None:
        meter.statements += 1
        meter._enter("sql")

    def after(*_: Any) -> None:
        meter._leave()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    gc.callbacks.append(meter.collecting)
    try:
        yield meter
    finally:
        gc.callbacks.remove(meter.collecting)
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        for owner, name, fn in reversed(undo):
            setattr(owner, name, fn)
