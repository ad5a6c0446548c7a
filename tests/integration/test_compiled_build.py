"""The optional compiled build (``make compiled-wheel``, setup.py): mypyc compiles the hot
paths of extraction and dedup, and the compiled package decides exactly what the pure one
does: the same facts of every article and the same stories and copies in a pipeline run.

Needs a C compiler and mypy (a dev tool); skipped with the reason when there is none.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Run twice, once on the pure package and once on the compiled wheel: every figure the
# extraction gives and every placement the pipeline makes, printed one per line.
PROBE = r"""
import sys, tempfile
from monitor.dedup import story
from monitor.extract import extractor
from monitor.pipeline import Pipeline
from monitor.rules.loader import load_rules
from monitor.settings import Settings
from monitor.store.db import make_engine, upgrade
from tests.bench import corpus, news_corpus
from tests.conftest import CHANNELS
from monitor.values import FetchedArticle
from tests.eval import story_corpus

print("compiled", extractor.__file__.endswith(".so"), story.__file__.endswith(".so"))
rules = load_rules(corpus.ROOT / "rules", channels=CHANNELS)
stories = [
    FetchedArticle(url=f"https://news.example/{it.key}", guid=it.key, title=it.title,
                   text=it.text, published_at=it.published)
    for it in story_corpus.generate()[:300]
]
streams = [news_corpus.generate(300), corpus.generate(100), stories]
for items in streams:
    for it in items:
        print(repr(extractor.extract(it.text, it.title, rules.vocabulary)))
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/probe.db")
        upgrade(engine)
        pipe = Pipeline(Settings(), engine, rules)
        for i in range(0, len(items), 50):
            pipe.ingest(items[i : i + 50], source=f"src{i // 50 % 3}")
        with engine.connect() as c:
            rows = c.exec_driver_sql(
                "SELECT id, story_id, duplicate_of, similarity, join_reason FROM article"
                " ORDER BY id"
            )
            for row in rows:
                print(tuple(row))
        engine.dispose()
"""


def _compiled_modules() -> list[str]:
    """setup.py's list, read without running setup()."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COMPILED":
            return list(ast.literal_eval(node.value))
    raise AssertionError("setup.py lists no COMPILED modules")


def _probe(pythonpath: str, tmp: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(PYTHONPATH=pythonpath, HOME=str(tmp))
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()


def test_the_compiled_build_decides_what_the_pure_package_decides(tmp_path: Path) -> None:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler (cc, gcc) to build the compiled wheel with")
    if shutil.which("mypyc", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mypy (with mypyc) is not installed beside this Python")
    # Built from a copy: mypyc's build/ folder never lands in the clone.
    src = tmp_path / "src"
    src.mkdir()
    shutil.copytree(ROOT / "monitor", src / "monitor", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    wheels = tmp_path / "wheels"
    env = {**os.environ, "MONITOR_MYPYC": "1"}
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(src)],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = wheels.glob("monitor-*.whl")
    assert "-cp3" in wheel.name  # a platform wheel, not py3-none-any
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        z.extractall(site)
    for module in _compiled_modules():
        stem = module.removesuffix(".py")
        assert any(n.startswith(stem + ".cpython-") and n.endswith(".so") for n in names), module
    pure = _probe(str(ROOT), tmp_path)
    compiled = _probe(f"{site}{os.pathsep}{ROOT}", tmp_path)
    assert pure[0] == "compiled False False"
    assert compiled[0] == "compiled True True"
    assert len(pure) > 1000  # 700 extractions and 700 placements
    differing = [(p, c) for p, c in zip(pure[1:], compiled[1:], strict=True) if p != c]
    assert not differing, differing[:3]
