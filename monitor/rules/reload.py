"""Hot reload of the rule files with an atomic swap and last-good fallback per file.

``RuleBook.current`` is replaced by a single reference assignment, so an evaluation that
took ``book.current`` keeps a whole, consistent set while a reload runs (RELIABILITY.md
R6). A file that turns bad keeps its last good version in force, and the outcome carries
the located problems so the daemon can log them and raise an operator alert (R2).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import Problem
from monitor.rules.loader import (
    EMPTY,
    FileResult,
    ParsedFile,
    RuleSet,
    assemble,
    read_file,
    rule_files,
)
from monitor.yamlsource import YamlProblem, read_capped

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    changed: bool  # a new rule set is now current
    problems: tuple[Problem, ...] = ()  # every problem of the files as they are on disk
    kept_last_good: tuple[str, ...] = ()  # bad files whose previous version stays in force
    dropped: tuple[str, ...] = ()  # bad files with no good version to fall back on

    @property
    def ok(self) -> bool:
        return not self.problems


class RuleBook:
    def __init__(self, path: Path, *, channels: Collection[str] | None) -> None:
        self.path = path
        self.channels = None if channels is None else frozenset(channels)
        self._lock = threading.Lock()
        self._good: dict[str, ParsedFile] = {}
        self._fingerprint: Fingerprint | None = None
        self._digests: dict[str, str] = {}
        self._results: dict[str, FileResult] = {}
        self.current: RuleSet = EMPTY
        self.last_outcome = self._reload(force=True)

    def _scan(self) -> Fingerprint:
        out = []
        files = rule_files(self.path) if self.path.exists() else []
        for p in files:
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((str(p), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def _read(self, name: str) -> FileResult:
        """A file's parse, reused while its bytes are unchanged: an edit re-parses one file."""
        cached = self._results.get(name)
        if cached is not None:
            try:
                raw = read_capped(Path(name))
            except YamlProblem:
                return read_file(Path(name))
            if hashlib.sha256(raw).hexdigest() == cached.digest:
                return cached
        return read_file(Path(name))

    def set_channels(self, channels: Collection[str]) -> None:
        """The channel names ``notify:`` may use changed (the channels file was reloaded):
        the next ``maybe_reload`` checks every rule against them, so a rule routed to a
        channel that was just added comes into force, and one routed to a removed channel
        is refused."""
        names = frozenset(channels)
        with self._lock:
            if names != self.channels:
                self.channels = names
                self._fingerprint = None
                self._digests = {}

    def maybe_reload(self) -> ReloadOutcome:
        """Reload when a file was added, removed or edited; cheap when nothing changed."""
        with self._lock:
            return self._reload(force=False)

    def _reload(self, *, force: bool) -> ReloadOutcome:
        fingerprint = self._scan()
        if not force and fingerprint == self._fingerprint:
            return ReloadOutcome(changed=False)
        results = [self._read(name) for name, _, _ in fingerprint]
        self._results = {r.path: r for r in results}
        digests = {r.path: r.digest for r in results}
        self._fingerprint = fingerprint
        if not force and digests == self._digests:
            # touched but not edited (mtime only): nothing to swap
            return ReloadOutcome(changed=False, problems=self.last_outcome.problems)
        self._digests = digests
        problems = [p for r in results for p in r.problems]
        if not self.path.exists():
            problems.append(Problem(str(self.path), 1, 1, "no such file or directory"))
        kept: list[str] = []
        dropped: list[str] = []
        effective: list[FileResult] = []
        for r in results:
            if r.parsed is not None:
                effective.append(r)
            elif r.path in self._good:
                kept.append(r.path)
                effective.append(FileResult(r.path, r.digest, self._good[r.path]))
            else:
                dropped.append(r.path)
        ruleset = assemble(effective, channels=self.channels)
        retry = [
            r.path
            for r in effective
            if r.path not in ruleset.files
            and r.path in self._good
            and r.parsed is not self._good[r.path]
        ]
        if retry:
            # an edit that parses but breaks a reference: fall back to that file's last good
            kept.extend(retry)
            effective = [
                FileResult(r.path, r.digest, self._good[r.path]) if r.path in retry else r
                for r in effective
            ]
            problems.extend(ruleset.problems)
            ruleset = assemble(effective, channels=self.channels)
        problems.extend(p for p in ruleset.problems if p not in problems)
        in_force = set(ruleset.files)
        # remember as good only what assembled cleanly, so a later bad edit falls back to it
        self._good = {
            r.path: r.parsed for r in effective if r.parsed is not None and r.path in in_force
        }
        final = RuleSet(ruleset.vocabulary, ruleset.rules, tuple(problems), ruleset.files)
        self.current = final  # the atomic swap: one reference assignment
        # the caller logs and raises the operator alert (daemon.reload_rules): one place
        log.debug("rules loaded: %d rule(s) from %d file(s)", len(final.rules), len(final.files))
        outcome = ReloadOutcome(True, tuple(problems), tuple(kept), tuple(dropped))
        self.last_outcome = outcome
        return outcome
