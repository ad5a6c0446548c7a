"""Two versions of monitor on one ingest, counted in instructions: is a change faster?

CPU seconds on a shared machine vary by 10-30% from run to run, more than most single
changes give. Valgrind's callgrind counts the instructions a process executes instead:
the same code on the same input gives about the same count, whatever else the machine runs.
This script ingests the same files with the working tree (or ``--head``) and with
``--base``, each commit checked out in a temporary worktree, under callgrind, the two at
once:

1. the realistic stream (``tests/bench/news_corpus.py``) is written as files: a history
   of ``--history`` articles, then ``--files`` more;
2. the history is ingested once, natively, by the base, into an SQLite file;
3. each version ingests the further files into its own copy of that file, under
   callgrind, and once a single file (its start-up and one article), its bytecode
   written beforehand by a native run (or every run would compile its modules);
4. printed: instructions per article (start-up subtracted) for each, the change, and
   whether both stored the same placements, facts, stories, keys and alerts.

Needs valgrind and git. Each callgrind run is ~50x slower than a native one: the
defaults (2,000 of history, 300 files) take ~7 minutes on two cores. Two counts of one
commit differ by ~0.3% an article (the clock, the order of threads): a change smaller
than that does not show.

    .venv/bin/python tests/bench/compare_instructions.py --base HEAD~1
    .venv/bin/python tests/bench/compare_instructions.py --base HEAD~2 --head HEAD~1
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import news_corpus  # noqa: E402

COLLECTED = re.compile(r"Collected : (\d+)")
# What two versions must store alike; an alert's key ends in the time it fired.
SAME = {
    "articles": "SELECT id, story_id, duplicate_of, similarity, join_reason FROM article",
    "facts": "SELECT id, article_id, story_id, new_to_story, entity, metric, value FROM fact",
    "stories": "SELECT id, main_entity, article_count, canonical_article_id, profile FROM story",
    "story keys": "SELECT story_id, company, article_id, unit, currency, value FROM story_key",
    "alerts": "SELECT rule_id, severity, entity, metric, old_value, new_value, story_id FROM alert",
}


def write_files(folder: Path, first: int, last: int) -> None:
    for i, item in enumerate(news_corpus.stream(last)):
        if i >= first:
            sub = folder / f"{i // 1000:04d}"
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"{i:07d}.txt").write_text(f"{item.title}\n\n{item.text}")


def ingest(tree: Path, db: Path, files: Path, *, counted: bool, home: Path) -> int:
    """Run ``monitor ingest`` of ``tree``'s code; the instructions when ``counted``."""
    # bytecode is written (and read): a tree without it would compile its modules in
    # every run, counted as its own cost (see ``warm``)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MONITOR_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        PYTHONPATH=str(tree),
        PYTHONHASHSEED="0",  # the same dict and set orders in every run
        HOME=str(home),
        MONITOR_LOG_LEVEL="WARNING",
        MONITOR_DATABASE_URL=f"sqlite:///{db}",
    )
    command = [sys.executable, "-m", "monitor", "ingest", "--recursive", str(files)]
    command += ["--source", "bench"]
    if counted:
        out = home / f"callgrind.{db.stem}"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command]
    # run from outside both trees: `python -m` puts the working directory first on the path
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=home)
    if done.returncode != 0:
        raise SystemExit(f"ingest with {tree} failed: {done.stderr[-600:]}")
    if not counted:
        return 0
    found = COLLECTED.findall(done.stderr)
    if not found:
        raise SystemExit(f"no instruction count from valgrind: {done.stderr[-400:]}")
    return int(found[-1])


def fingerprint(db: Path, queries: dict[str, str] = SAME) -> dict[str, str]:
    """A hash of each kind of row (``queries``: name -> SELECT), in an order no query
    plan decides."""
    with sqlite3.connect(db) as conn:
        return {
            name: hashlib.sha1("\n".join(sorted(map(repr, conn.execute(q)))).encode()).hexdigest()
            for name, q in queries.items()
        }


def warm(tree: Path, one: Path, tmp: Path) -> None:
    """A native run of ``tree`` that writes its bytecode, so that no counted run (the
    work, or the start-up subtracted from it) compiles a module the other does not."""
    ingest(tree, tmp / f"warm-{tree.name}.db", one, counted=False, home=tmp)


def measure(
    tree: Path, name: str, history: Path, files: Path, one: Path, tmp: Path
) -> tuple[int, int, dict[str, str]]:
    safe = re.sub(r"[^\w.-]", "_", name)
    db, start_db = tmp / f"{safe}.db", tmp / f"{safe}-start.db"
    shutil.copyfile(history, db)
    shutil.copyfile(history, start_db)
    work = ingest(tree, db, files, counted=True, home=tmp)
    start = ingest(tree, start_db, one, counted=True, home=tmp)  # start-up and one article
    return work, start, fingerprint(db)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="HEAD", help="the commit to compare with (HEAD)")
    parser.add_argument("--head", help="a commit to count instead of the working tree")
    parser.add_argument("--history", type=int, default=2000, help="articles stored first")
    parser.add_argument("--files", type=int, default=300, help="articles counted")
    args = parser.parse_args()
    if args.files < 2:
        parser.error("--files: at least 2")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    head = args.head or "this tree"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trees = {args.base: tmp / "base"}
        if args.head:
            trees[args.head] = tmp / "head"
        for ref, tree in trees.items():
            git = ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), ref]
            subprocess.run(git, check=True)
        sides = {"base": trees[args.base], head: trees.get(head, ROOT)}
        try:
            history_files, files, one = tmp / "history", tmp / "files", tmp / "one"
            write_files(history_files, 0, args.history)
            write_files(files, args.history, args.history + args.files)
            write_files(one, args.history + args.files, args.history + args.files + 1)
            for tree in sides.values():
                warm(tree, one, tmp)
            history = tmp / "history.db"
            print(f"ingesting {args.history:,} articles of history ...", flush=True)
            ingest(sides["base"], history, history_files, counted=False, home=tmp)
            print(f"counting {args.files:,} more under callgrind, both at once ...", flush=True)
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                runs = {
                    name: pool.submit(measure, tree, name, history, files, one, tmp)
                    for name, tree in sides.items()
                }
                results = {name: run.result() for name, run in runs.items()}
        finally:
            for tree in trees.values():
                git = ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)]
                subprocess.run(git, check=True)
    print(f"\nmonitor ingest of {args.files:,} files on top of {args.history:,} stored")
    print(f"{'':<12}{'instructions/article':>22}{'start-up':>16}")
    per = {}
    for name, (work, start, _) in results.items():
        per[name] = (work - start) / (args.files - 1)
        print(f"{name[:11]:<12}{per[name]:>22,.0f}{start:>16,}")
    print(f"change: {per[head] / per['base'] - 1:+.1%} ({args.base} -> {head})")
    a, b = results["base"][2], results[head][2]
    differ = [name for name in SAME if a[name] != b[name]]
    print("stored alike: " + ("yes" if not differ else "NO, differ: " + ", ".join(differ)))


if __name__ == "__main__":
    main()
