"""`monitor ingest` end to end: articles per CPU-second of the whole process, start-up
included, and its peak resident memory (issue 16, points 3 and 4).

The realistic news stream (``tests/bench/news_corpus.py``: 3-4 KB articles, ~60%
distinct events, ~25% syndicated copies, ~15% rewrites) is written as .txt files, one
article each, and ingested by ``monitor ingest --recursive`` as a child process into a
new SQLite file. CPU time is the child's user + system time (``getrusage``), memory its
peak resident set. Peer in the same run: ``monitor --help`` (start-up alone). Then, on a
machine with more than one core, the same files with ``--jobs`` (up to 4: extraction in
worker processes a batch ahead): its wall time, and its CPU time with the workers'.
Targets: >= 1,000 articles per CPU-second; 100,000 files under 300 MB resident
(``--files 100000``).
Usage: python tests/bench/bench_ingest.py [--quick] [--files N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import news_corpus  # noqa: E402

# A small process starts monitor and reports its usage: a child forked from this one
# (which holds the corpus) would count this process's pages in its peak memory.
# Its wall time is the child's alone, from fork to exit.
LAUNCH = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime,
                  usage.ru_maxrss, time.perf_counter() - started]))
"""


def child(
    args: list[str], env: dict[str, str], program: tuple[str, ...] = ("-m", "monitor")
) -> tuple[float, int, float]:
    """Run ``monitor args`` (or ``python *program args``): (CPU seconds, peak resident
    bytes, wall seconds)."""
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, *program, *args], env=env, capture_output=True, text=True
    )
    code, cpu, maxrss, wall = json.loads(done.stdout.strip().splitlines()[-1])
    if code != 0:
        raise SystemExit(f"{' '.join([*program, *args])} failed: {done.stderr[-400:]}")
    return float(cpu), int(maxrss) * 1024, float(wall)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="600 files")
    parser.add_argument("--files", type=int, default=0, help="default 3,000")
    args = parser.parse_args()
    n = args.files or (600 if args.quick else 3000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "news"
        folder.mkdir()
        # streamed from the generator: 100,000 articles are never all in memory
        for i, item in enumerate(news_corpus.stream(n)):
            sub = folder / f"{i // 1000:04d}"
            sub.mkdir(exist_ok=True)
            (sub / f"{i:07d}.txt").write_text(f"{item.title}\n\n{item.text}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env.update(PYTHONPATH=str(ROOT), HOME=tmp, MONITOR_LOG_LEVEL="WARNING")
        env["MONITOR_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
        help_cpu, help_rss, _ = child(["--help"], env)
        cpu, rss, wall = child(["ingest", "--recursive", str(folder), "--source", "bench"], env)
        jobs = min(os.cpu_count() or 1, 4)
        if jobs > 1:  # the same files again, into a new database, extraction in workers
            env["MONITOR_DATABASE_URL"] = f"sqlite:///{tmp}/jobs.db"
            cpu_j, rss_j, wall_j = child(
                ["ingest", "--recursive", str(folder), "--source", "bench", "--jobs", str(jobs)],
                env,
            )
    mb = 1024 * 1024
    rate = n / cpu
    print(f"monitor ingest of {n:,} files of 3-4 KB (one article each), one process")
    print(f"{'what':<44}{'value':>16}{'target':>12}")
    rows = [
        ("articles per CPU-second, start-up included", f"{rate:,.0f}", ">= 1000"),
        ("CPU seconds (user + system)", f"{cpu:.1f}", ""),
        ("wall seconds", f"{wall:.1f}", ""),
        ("peak resident memory", f"{rss / mb:.0f} MB", "< 300 MB"),
        ("peer: monitor --help, CPU seconds", f"{help_cpu:.2f}", ""),
        ("peer: monitor --help, peak resident memory", f"{help_rss / mb:.0f} MB", ""),
    ]
    if jobs > 1:
        rows += [
            (f"--jobs {jobs}: wall seconds", f"{wall_j:.1f}", ""),
            (f"--jobs {jobs}: speed-up in wall time", f"{wall / wall_j:.2f}x", ""),
            (f"--jobs {jobs}: CPU seconds, workers included", f"{cpu_j:.1f}", ""),
            (f"--jobs {jobs}: peak memory, largest process", f"{rss_j / mb:.0f} MB", ""),
        ]
    for name, value, target in rows:
        print(f"{name:<44}{value:>16}{target:>12}")
    print(
        "targets: "
        + ("met" if rate >= 1000 else "articles per CPU-second MISSED")
        + ("" if rss < 300 * mb else "; memory MISSED")
    )


if __name__ == "__main__":
    main()
