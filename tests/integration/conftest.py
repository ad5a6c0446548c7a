"""The command line run in this process, as tests of the CLI contract use it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.cli import main
from tests.conftest import ROOT


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """monitor's main() in this process (fast), from the repository's root unless ``cwd``
    says otherwise; test_cli's subprocess test covers the entry point."""

    def invoke(*args: str, db: str | None, cwd: Path = ROOT) -> Result:
        if db is not None:
            monkeypatch.setenv("MONITOR_DATABASE_URL", db)
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return invoke


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture(scope="module")
def seeded_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds' database of the web view's tests, built once per test module."""
    from tests.integration.webdb import seeded

    path = tmp_path_factory.mktemp("seeded") / "web.db"
    seeded(path)
    return path


@pytest.fixture
def seeded_copy(seeded_base: Path, tmp_path: Path) -> str:
    """A copy of it for one test, which may change it."""
    from tests.integration.webdb import copy_of

    return copy_of(seeded_base, tmp_path)
