"""Read ``rules/*.yaml`` into one ``RuleSet``; every mistake becomes a located Problem.

Two passes. ``parse_file`` checks one file on its own (YAML syntax and safe tags, the
schema, regexes). ``assemble`` merges the files that passed and checks what spans files:
references to entities, metrics, term families, topics and channels, and ids defined
twice. A file with any problem is left out whole and its problems are listed; the other
files load (ElastAlert2 stops at the first bad file: elastalert2#1336).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from pydantic import ValidationError

from monitor.errors import Problem
from monitor.rules.patterns import check_pattern
from monitor.rules.problems import schema_problems, unknown_message
from monitor.rules.schema import (
    ConflictSpec,
    CountSpec,
    NewTermSpec,
    RuleFileSpec,
    RuleSpec,
    SeriesSpec,
    StaleSpec,
    TopicRuleSpec,
    realert_of,
)
from monitor.values import EntityDef, MetricDef, TermFamily, TopicDef, Vocabulary
from monitor.yamlsource import KeyPath, Located, YamlProblem, load_text, read_capped

SECTIONS = ("entities", "metrics", "terms", "topics")


@dataclass(frozen=True, slots=True)
class Rule:
    """One loaded rule with what the engine needs resolved."""

    spec: RuleSpec
    file: str
    line: int

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def severity(self) -> str:
        return self.spec.severity

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.spec.notify)

    @property
    def immediate(self) -> bool:
        return self.spec.send == "immediate"

    @property
    def realert(self) -> timedelta:
        return realert_of(self.spec)


@dataclass(frozen=True, slots=True)
class RuleSet:
    vocabulary: Vocabulary
    rules: tuple[Rule, ...]
    problems: tuple[Problem, ...]
    files: tuple[str, ...]  # the files whose content is in effect

    @property
    def ok(self) -> bool:
        return not self.problems

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


EMPTY = RuleSet(Vocabulary(), (), (), ())


@dataclass(frozen=True)
class ParsedFile:
    """A file that passed the single-file checks."""

    path: str
    digest: str
    located: Located
    spec: RuleFileSpec


@dataclass
class FileResult:
    path: str
    digest: str
    parsed: ParsedFile | None
    problems: list[Problem] = field(default_factory=list)


# ------------------------------------------------------------------ entry points


def rule_files(path: Path) -> list[Path]:
    """The rule files under ``path``, vocabulary first so its ids win over later copies."""
    if path.is_dir():
        found = [
            p
            for p in path.iterdir()
            if p.suffix in (".yaml", ".yml") and p.is_file() and not p.name.startswith(".")
        ]
    else:
        found = [path]
    return sorted(found, key=lambda p: (not p.stem.startswith("vocabulary"), p.name))


def load_rules(path: Path, *, channels: Collection[str] | None) -> RuleSet:
    """Load a directory of rule files, or one file; never raises for a bad file.

    ``channels`` are the names ``notify:`` may use; None when no channels file is in
    effect (the names are then not checked)."""
    if not path.exists():
        return RuleSet(Vocabulary(), (), (Problem(str(path), 1, 1, "no such file"),), ())
    results = [read_file(p) for p in rule_files(path)]
    context: list[ParsedFile] = []
    if path.is_file():
        # One file checked alone still sees the vocabulary of its directory's other files.
        for sibling in rule_files(path.parent):
            if sibling.resolve() != path.resolve():
                other = read_file(sibling)
                if other.parsed is not None:
                    context.append(other.parsed)
    return assemble(results, channels=channels, context=context)


def read_file(path: Path) -> FileResult:
    try:
        raw = read_capped(path)  # a huge file is refused before it is read whole
    except YamlProblem as exc:
        return FileResult(str(path), "", None, [exc.problem])
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return FileResult(
            str(path), digest, None, [Problem(str(path), 1, 1, f"not UTF-8 text: {exc.reason}")]
        )
    parsed, problems = parse_text(text, str(path))
    if parsed is not None:
        parsed = ParsedFile(parsed.path, digest, parsed.located, parsed.spec)
    return FileResult(str(path), digest, parsed, problems)


def parse_text(text: str, path: str) -> tuple[ParsedFile | None, list[Problem]]:
    """Single-file checks: YAML, schema, regexes."""
    try:
        located = load_text(text, path)
    except YamlProblem as exc:
        return None, [exc.problem]
    if located.data is None or located.data == {}:
        located.data = {}
    if not isinstance(located.data, dict):
        return None, [
            located.problem(
                (), "a rule file is a mapping with entities, metrics, terms, topics and rules"
            )
        ]
    problems = _pattern_problems(located)
    try:
        spec = RuleFileSpec.model_validate(located.data)
    except ValidationError as exc:
        problems.extend(schema_problems(located, exc))
    if problems:
        return None, sorted(set(problems), key=lambda p: (p.line, p.col, p.message))
    return ParsedFile(path, "", located, spec), []


def _pattern_problems(located: Located) -> list[Problem]:
    # Checked on the raw data so that a bad regex is reported even beside schema errors.
    terms = located.data.get("terms")
    if not isinstance(terms, dict):
        return []
    return [
        located.problem(("terms", fid, "pattern"), why)
        for fid, term in terms.items()
        if isinstance(term, dict)
        and isinstance(term.get("pattern"), str)
        and (why := check_pattern(term["pattern"])) is not None
    ]


# ------------------------------------------------------------------ across files


def assemble(
    results: Sequence[FileResult],
    *,
    channels: Collection[str] | None,
    context: Sequence[ParsedFile] = (),
) -> RuleSet:
    """Merge parsed files; leave out every file with a problem, listing its problems."""
    problems: dict[str, list[Problem]] = {r.path: list(r.problems) for r in results}
    good = [r.parsed for r in results if r.parsed is not None]
    unread = [r.path for r in results if r.parsed is None]
    dropped: list[ParsedFile] = []  # left out by the cross-checks, round by round
    while True:
        found = _cross_check(good, channels=channels, context=context)
        if not found:
            break
        for path, probs in found.items():
            problems.setdefault(path, []).extend(_first_undefined(probs, unread, dropped))
        dropped += [f for f in good if f.path in found]
        good = [f for f in good if f.path not in found]
    vocab = _vocabulary([*context, *good])
    rules = tuple(
        Rule(spec, f.path, f.located.where(("rules", i))[0])
        for f in good
        for i, spec in enumerate(f.spec.rules)
    )
    ordered = [p for r in results for p in problems.get(r.path, [])]
    return RuleSet(vocab, rules, tuple(ordered), tuple(f.path for f in good))


_UNDEFINED = re.compile(r"undefined (entity|metric|term family|topic) '([^']*)'")
_SECTION_OF = {"entity": "entities", "metric": "metrics", "term family": "terms", "topic": "topics"}


def _first_undefined(
    found: list[Problem], unread: Sequence[str], dropped: Sequence[ParsedFile]
) -> list[Problem]:
    """With a file left out for its own problems (a vocabulary with one bad pattern),
    every name it defines is undefined for the other files: one line per file says so,
    naming the file that defines them (or, when that is a file that could not be read,
    the files that might), not one line per reference, so that the problem that matters
    is not buried."""
    undefined = [(p, m) for p in found if (m := _UNDEFINED.search(p.message)) is not None]
    if len(undefined) < 2:
        return found
    first, match = undefined[0]
    section = _SECTION_OF[match.group(1)]
    owners = [f.path for f in dropped if match.group(2) in getattr(f.spec, section)]
    if owners:
        where = f"defined in {', '.join(owners)}"
    elif unread:
        where = f"perhaps defined in {', '.join(unread)}"
    else:
        return found  # misspelt names, each its own problem
    more = len(undefined) - 1
    whose = "its" if len(owners or unread) == 1 else "their"
    said = replace(
        first,
        message=f"{first.message} (and {more} more undefined name{'s' if more > 1 else ''}:"
        f" {where}, left out for {whose} problems)",
    )
    rest = {id(p) for p, _ in undefined[1:]}
    return [said if p is first else p for p in found if id(p) not in rest]


def _vocabulary(files: Sequence[ParsedFile]) -> Vocabulary:
    entities: dict[str, EntityDef] = {}
    metrics: dict[str, MetricDef] = {}
    terms: dict[str, TermFamily] = {}
    topics: dict[str, TopicDef] = {}
    for f in files:
        s = f.spec
        for eid, e in s.entities.items():
            entities.setdefault(eid, EntityDef(eid, tuple(e.names)))
        for mid, m in s.metrics.items():
            metrics.setdefault(
                mid, MetricDef(mid, m.kind, tuple(m.cues), tuple(m.exclude), m.label)
            )
        for tid, t in s.terms.items():
            terms.setdefault(tid, TermFamily(tid, t.pattern, t.label))
        for pid, p in s.topics.items():
            topics.setdefault(pid, TopicDef(pid, tuple(p.phrases)))
    return Vocabulary(
        tuple(entities.values()),
        tuple(metrics.values()),
        tuple(terms.values()),
        tuple(topics.values()),
    )


def _cross_check(
    files: Sequence[ParsedFile], *, channels: Collection[str] | None, context: Sequence[ParsedFile]
) -> dict[str, list[Problem]]:
    found: dict[str, list[Problem]] = {}
    defined: dict[tuple[str, str], ParsedFile] = {}
    for f in [*context, *files]:
        for section in SECTIONS:
            for item in getattr(f.spec, section):
                first = defined.setdefault((section, item), f)
                if first is not f and f in files:
                    line, col = first.located.where((section, item), key=True)
                    found.setdefault(f.path, []).append(
                        f.located.problem(
                            (section, item),
                            f"already defined in {first.path}:{line}:{col}",
                            key=True,
                        )
                    )
    known = {section: {item for (sec, item) in defined if sec == section} for section in SECTIONS}
    metric_kinds = {mid: m.kind for f in [*context, *files] for mid, m in f.spec.metrics.items()}
    rule_ids: dict[str, tuple[ParsedFile, int]] = {}
    for f in files:
        for i, rule in enumerate(f.spec.rules):
            first_rule = rule_ids.setdefault(rule.id, (f, i))
            if first_rule != (f, i):
                other, j = first_rule
                line, col = other.located.where(("rules", j, "id"))
                found.setdefault(f.path, []).append(
                    f.located.problem(
                        ("rules", i, "id"),
                        f"duplicate rule id {rule.id!r}: first used at {other.path}:{line}:{col}",
                    )
                )
            for keypath, message in _rule_refs(rule, known, metric_kinds, channels):
                found.setdefault(f.path, []).append(
                    f.located.problem(("rules", i, *keypath), message)
                )
    return found


def _rule_refs(
    rule: RuleSpec,
    known: Mapping[str, set[str]],
    metric_kinds: Mapping[str, str],
    channels: Collection[str] | None,
) -> list[tuple[KeyPath, str]]:
    out: list[tuple[KeyPath, str]] = []
    base: KeyPath = ("when", rule.kind)
    cond = rule.condition

    def ref(key: str, value: str | None, section: str, what: str) -> None:
        if value is not None and value not in known[section]:
            out.append(
                (
                    (*base, key),
                    unknown_message(f"undefined {what} {value!r}", value, known[section]),
                )
            )

    if isinstance(cond, SeriesSpec):
        ref("entity", cond.entity, "entities", "entity")
        ref("metric", cond.metric, "metrics", "metric")
        kind = metric_kinds.get(cond.metric)
        if cond.currency is not None and kind is not None and kind != "money":
            out.append(
                (
                    (*base, "currency"),
                    f"'currency' applies to money metrics; {cond.metric!r} is {kind}",
                )
            )
        if isinstance(cond, ConflictSpec) and cond.tolerance.value <= 0:
            out.append(((*base, "tolerance"), "must be greater than 0"))
    elif isinstance(cond, NewTermSpec):
        ref("family", cond.family, "terms", "term family")
        ref("entity", cond.entity, "entities", "entity")
    elif isinstance(cond, TopicRuleSpec | CountSpec):
        ref("topic", cond.topic, "topics", "topic")
        ref("entity", cond.entity, "entities", "entity")
    elif isinstance(cond, StaleSpec):
        ref("entity", cond.entity, "entities", "entity")
        ref("metric", cond.metric, "metrics", "metric")
    for i, channel in enumerate(rule.notify):
        if channels is not None and channel not in channels:
            out.append(
                (("notify", i), unknown_message(f"unknown channel {channel!r}", channel, channels))
            )
    return out
