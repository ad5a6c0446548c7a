"""The garbage collector set for a process that runs the pipeline (issue 16).

A batch allocates hundreds of thousands of small objects (quantities, facts, figures,
rows) and frees nearly all of them by reference counting. CPython's default thresholds
(700, 10, 10) still collect the young generation every 700 allocations, and every hundred
of those a full collection walks every object the process holds: its modules, the
rules with their compiled patterns, the decoded story profiles kept. On the pipeline
benchmark's realistic corpus that was 153-170 µs an article of ~3,400; with the young
generation at 20,000 and start-up's objects frozen, 14-15 (``tests/bench/bench_pipeline.py``
prints it). Objects frozen here and later dropped in a reference cycle are never
collected. Start-up's state mostly lives as long as the process; a rule set replaced by
a reload is the exception, and whatever cycles it holds stay.
"""

from __future__ import annotations

import gc
import threading

YOUNG = 20_000  # allocations between two collections of the young generation

_lock = threading.Lock()
_settled = False


def settle() -> None:
    """Once per process, when its long-lived state is loaded: collect what start-up left,
    freeze what survives (never walked again by a collection; ``gc.freeze``) and raise
    the young generation's threshold. Cyclic garbage is still collected."""
    global _settled
    with _lock:
        if _settled:
            return
        _settled = True
    young, middle, old = gc.get_threshold()
    if 0 < young < YOUNG:  # 0: collection switched off by whoever runs us; leave it
        gc.set_threshold(YOUNG, middle, old)
    gc.collect()
    gc.freeze()
