"""The garbage collector as a pipeline process sets it (monitor.app.collector), each case
in a fresh interpreter: the setting is once per process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_start_up_garbage_is_collected_what_lives_is_frozen_and_cycles_still_go() -> None:
    out = _run(
        """
import gc, weakref
gc.set_threshold(700, 10, 10)
class Node: pass
def cycle():
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)
kept = Node()
old = cycle()  # garbage left by start-up: collected, not frozen for good
from monitor.app import collector
collector.settle()
frozen = gc.get_freeze_count()
young = cycle()  # garbage made afterwards: a collection still finds it
gc.collect()
collector.settle()  # a second call changes nothing
print(old() is None, young() is None, gc.get_threshold()[0], frozen > 0,
      gc.get_freeze_count() == frozen)
"""
    )
    assert out == "True True 20000 True True"


def test_a_collector_switched_off_stays_off() -> None:
    out = _run(
        "import gc; gc.set_threshold(0); from monitor.app import collector; "
        "collector.settle(); print(gc.get_threshold()[0])"
    )
    assert out == "0"


def test_a_pipeline_settles_the_collector() -> None:
    out = _run(
        """
import gc, tempfile
from monitor.pipeline import Pipeline
from monitor.rules.loader import EMPTY
from monitor.settings import Settings
from monitor.store.db import make_engine
Pipeline(Settings(), make_engine(f"sqlite:///{tempfile.mkdtemp()}/t.db"), EMPTY)
print(gc.get_threshold()[0], gc.get_freeze_count() > 0)
"""
    )
    assert out == "20000 True"


def test_a_replay_of_history_settles_the_collector(tmp_path: Path) -> None:
    out = _run(
        f"""
import gc
from monitor.cli import main
code = main(["--db", "{tmp_path / "m.db"}", "rules", "test", "--json"])
print(code, gc.get_threshold()[0], gc.get_freeze_count() > 0)
"""
    )
    assert out.splitlines()[-1] == "0 20000 True"
