"""Start-up: `monitor --help` and a listing on a small database (issue 16, point 3).

Each command runs as a new process, ``--runs`` times after one warm-up run (which writes
the bytecode caches, as installing the package does; ``PYTHONDONTWRITEBYTECODE`` is
dropped from the children's environment, or every run would compile monitor's modules
again). The figure is the median wall time, with the child's CPU time beside it.
The listing reads a SQLite file holding 50 articles of the realistic news stream.
Peers in the same run: a bare interpreter, and one that imports only the libraries every
database command needs (SQLModel with SQLAlchemy, pydantic-settings, click).
Targets: ``--help`` < 0.3 s, the listing < 0.5 s.
Usage: python tests/bench/bench_startup.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import news_corpus  # noqa: E402
from tests.bench.bench_ingest import child  # noqa: E402

LIBRARIES = "import sqlmodel, sqlalchemy.orm, pydantic_settings, click"


def timed(
    args: list[str], env: dict[str, str], runs: int, program: tuple[str, ...] = ("-m", "monitor")
) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of ``runs`` runs after a warm-up."""
    child(args, env, program)
    samples = [child(args, env, program) for _ in range(runs)]
    return (
        statistics.median(wall for _, _, wall in samples),
        statistics.median(cpu for cpu, _, _ in samples),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="5 runs a command")
    parser.add_argument("--runs", type=int, default=0, help="default 15")
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 15)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "news"
        folder.mkdir()
        for i, item in enumerate(news_corpus.stream(50)):
            (folder / f"{i:03d}.txt").write_text(f"{item.title}\n\n{item.text}")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("MONITOR_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(PYTHONPATH=str(ROOT), HOME=tmp, MONITOR_LOG_LEVEL="WARNING")
        env["MONITOR_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
        child(["ingest", "--recursive", str(folder), "--source", "bench"], env)
        rows = [
            ("monitor --help", *timed(["--help"], env, runs), 0.3),
            ("monitor stories list (50 articles)", *timed(["stories", "list"], env, runs), 0.5),
            ("monitor facts (50 articles)", *timed(["facts"], env, runs), None),
            ("peer: python -c pass", *timed(["-c", "pass"], env, runs, ()), None),
            (f"peer: python -c '{LIBRARIES}'", *timed(["-c", LIBRARIES], env, runs, ()), None),
        ]
    print(f"start-up, median of {runs} runs a command (after one warm-up run)")
    print(f"{'command':<78}{'wall s':>8}{'CPU s':>8}{'target':>9}")
    missed = []
    for name, wall, cpu, target in rows:
        mark = f"< {target}" if target else ""
        print(f"{name:<78}{wall:>8.2f}{cpu:>8.2f}{mark:>9}")
        if target and wall >= target:
            missed.append(name)
    print("targets: " + ("met" if not missed else "MISSED: " + ", ".join(missed)))


if __name__ == "__main__":
    main()
