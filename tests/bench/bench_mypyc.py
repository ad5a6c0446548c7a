"""What the optional compiled build gives (issue 16, point 3): the extraction benchmark and
the whole pipeline run on the pure-Python package and on a copy in which mypyc compiled
the modules setup.py lists (the hot paths of extraction and dedup, as ``make
compiled-wheel`` builds them), alternately, best of two each.

    .venv/bin/python tests/bench/bench_mypyc.py

The copy is made in a temporary folder (beside a link to ``../shared``, so both runs read
the same texts) and removed afterwards: compiled modules in the source tree would shadow
every later edit of the .py files. Needs a C compiler; says so and stops without one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTRACT = re.compile(r"^extract \(facts, terms, topics\)\s+([\d,]+)", re.M)
PIPELINE = re.compile(r"^articles per CPU-second\s+(\d+)\s+(\d+)", re.M)
ALONE = re.compile(r"^\s+extraction alone, realistic\s+(\d+)", re.M)


def _run(tree: Path, script: str) -> str:
    return subprocess.run(
        [sys.executable, f"tests/bench/{script}", "--quick"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def rates(tree: Path) -> tuple[int, int, int, int]:
    """(bench_extract's articles/s, the pipeline's realistic and worst case articles per
    CPU-second, extraction alone on the realistic corpus)."""
    found = EXTRACT.search(_run(tree, "bench_extract.py"))
    assert found, f"no extraction rate in the output of {tree}"
    out = _run(tree, "bench_pipeline.py")
    pipe, alone = PIPELINE.search(out), ALONE.search(out)
    assert pipe and alone, f"no pipeline rates in the output of {tree}"
    return (
        int(found.group(1).replace(",", "")),
        int(pipe.group(1)),
        int(pipe.group(2)),
        int(alone.group(1)),
    )


def main() -> None:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        print("mypyc: no C compiler here (cc, gcc): nothing measured")
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "repo"
        copy.mkdir()
        for part in ("monitor", "tests", "rules", "seeds", "pyproject.toml", "setup.py"):
            src = ROOT / part
            if src.is_symlink():  # rules/ and seeds/ point into monitor/bundled/
                (copy / part).symlink_to(src.readlink())
            elif src.is_dir():
                shutil.copytree(src, copy / part, symlinks=True)
            else:
                shutil.copy2(src, copy / part)
        if (ROOT.parent / "shared").exists():
            (Path(tmp) / "shared").symlink_to(ROOT.parent / "shared")
        started = time.perf_counter()
        built = subprocess.run(
            [sys.executable, "setup.py", "build_ext", "--inplace"],
            cwd=copy,
            env={**os.environ, "MONITOR_MYPYC": "1"},
            capture_output=True,
            text=True,
        )
        if built.returncode != 0:
            print(f"mypyc failed ({built.returncode}): {built.stderr.strip()[-500:]}")
            return
        took = time.perf_counter() - started
        compiled_count = len(list(copy.glob("monitor/**/*.so")))
        pure, compiled = [], []
        for _ in range(2):
            pure.append(rates(ROOT))
            compiled.append(rates(copy))
    print(f"mypyc: {compiled_count} modules (setup.py's COMPILED) compiled in {took:.0f} s")
    print(f"{'best of 2':<52}{'pure':>8}{'compiled':>10}{'gain':>8}")
    for i, label in enumerate(
        (
            "extraction, bench_extract's texts (art/s)",
            "whole pipeline, realistic (art/CPU-s)",
            "whole pipeline, worst case (art/CPU-s)",
            "extraction alone, realistic (art/s)",
        )
    ):
        p, c = max(r[i] for r in pure), max(r[i] for r in compiled)
        print(f"  {label:<50}{p:>8,}{c:>10,}{c / p:>7.2f}x")


if __name__ == "__main__":
    main()
