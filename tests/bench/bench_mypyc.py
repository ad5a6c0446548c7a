"""What compiling the extractor with mypyc gives (issue 16, point 3): the same extraction
benchmark run on the pure-Python package and on a copy whose ``monitor/extract`` modules
mypyc compiled to C extensions, alternately, best of two each.

    .venv/bin/python tests/bench/bench_mypyc.py

The copy is made in a temporary folder (beside a link to ``../shared``, so both runs read
the same texts) and removed afterwards: compiled modules in the source tree would shadow
every later edit of the .py files. Needs a C compiler; says so and stops without one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^extract \(facts, terms, topics\)\s+([\d,]+)", re.M)


def rate(tree: Path) -> int:
    out = subprocess.run(
        [sys.executable, "tests/bench/bench_extract.py", "--quick"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = LINE.search(out)
    assert found, f"no extraction rate in the output of {tree}"
    return int(found.group(1).replace(",", ""))


def main() -> None:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        print("mypyc: no C compiler here (cc, gcc): nothing measured")
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "repo"
        copy.mkdir()
        for part in ("monitor", "tests", "rules", "seeds", "pyproject.toml"):
            src = ROOT / part
            if src.is_symlink():  # rules/ and seeds/ point into monitor/bundled/
                (copy / part).symlink_to(src.readlink())
            elif src.is_dir():
                shutil.copytree(src, copy / part, symlinks=True)
            else:
                shutil.copy2(src, copy / part)
        if (ROOT.parent / "shared").exists():
            (Path(tmp) / "shared").symlink_to(ROOT.parent / "shared")
        modules = sorted(
            str(p.relative_to(copy))
            for p in (copy / "monitor" / "extract").glob("*.py")
            if p.name != "__init__.py"
        )
        started = time.perf_counter()
        built = subprocess.run(
            [str(Path(sys.executable).with_name("mypyc")), *modules],
            cwd=copy,
            capture_output=True,
            text=True,
        )
        if built.returncode != 0:
            print(f"mypyc failed ({built.returncode}): {built.stderr.strip()[-500:]}")
            return
        took = time.perf_counter() - started
        pure, compiled = [], []
        for _ in range(2):
            pure.append(rate(ROOT))
            compiled.append(rate(copy))
    print(f"mypyc: {len(modules)} modules of monitor/extract compiled in {took:.0f} s")
    print(f"{'extraction, articles/s per core':<40} {'best of 2':>10}")
    print(f"{'  pure Python':<40} {max(pure):>10,}")
    print(f"{'  compiled with mypyc':<40} {max(compiled):>10,}")
    print(f"{'  gain':<40} {max(compiled) / max(pure):>9.2f}x")


if __name__ == "__main__":
    main()
