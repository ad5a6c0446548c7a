"""The optional compiled build: with ``MONITOR_MYPYC=1`` the modules below are compiled to
C extensions with mypyc; without it (the default) the package is pure Python.

    make compiled-wheel      # dist/monitor-<version>-cp3XX-...-linux_x86_64.whl

Everything else about the package is in pyproject.toml. The compiled modules are the
pure hot paths of extraction and dedup (tests/bench/bench_mypyc.py measures what they
give); the build needs mypy and a C compiler, so it runs without build isolation in a
venv that has the dev tools (``pip wheel --no-build-isolation``).
"""

from __future__ import annotations

import os

from setuptools import setup

COMPILED = [
    "monitor/extract/entities.py",
    "monitor/extract/extractor.py",
    "monitor/extract/metrics.py",
    "monitor/extract/number_context.py",
    "monitor/extract/org_cues.py",
    "monitor/extract/organisations.py",
    "monitor/extract/quantities.py",
    "monitor/extract/ratios.py",
    "monitor/extract/respectively.py",
    "monitor/extract/sentences.py",
    "monitor/extract/term_gates.py",
    "monitor/extract/terms.py",
    "monitor/extract/vocab.py",
    "monitor/dedup/figures.py",
    "monitor/dedup/minhash.py",
    "monitor/dedup/near.py",
    "monitor/dedup/normalize.py",
    "monitor/dedup/restatement.py",
    "monitor/dedup/story.py",
    "monitor/dedup/story_codec.py",
    "monitor/dedup/story_members.py",
    "monitor/dedup/text_vector.py",
]


def _extensions() -> list[object]:
    if os.environ.get("MONITOR_MYPYC", "").strip().lower() not in ("1", "true", "yes"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as e:
        raise SystemExit(
            "MONITOR_MYPYC=1 needs mypy in the building environment: build with"
            " `pip wheel --no-build-isolation` in a venv with the dev tools (make compiled-wheel)"
        ) from e
    return list(mypycify(COMPILED, opt_level="3", group_name="monitor_compiled"))


setup(ext_modules=_extensions())
