"""Package attributes loaded on first use (PEP 562).

A package whose ``__init__`` re-exports from heavy modules makes every importer pay for
them: ``monitor.dedup`` pulled in numpy, ``monitor.fetch`` httpx and feedparser, for
commands that use neither.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def exports(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that finds ``name`` in ``package.<where[name]>``."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{where[name]}"), name)

    return __getattr__
