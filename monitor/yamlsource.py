"""YAML read safely, with the line and column of every value, for located error messages.

Analysts and operators write ``rules/*.yaml`` and ``sources.yaml`` by hand; every mistake
must come back as ``path:line:col: message``. PyYAML's composer keeps marks on each node;
we build plain Python values from the node tree with ``SafeLoader`` semantics (no python/*
tags: CVE-2017-18342) and a side table from key path to position.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import Problem

KeyPath = tuple[str | int, ...]
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Hand-written files are small: the shipped vocabulary is ~20 KB. A larger one is a
# mistake or an attack, and is refused before it is read whole (RELIABILITY O1).
MAX_FILE_BYTES = 2 * 1024 * 1024
# Values a document may expand to. Aliases are references: nine levels of nine aliases
# ("billion laughs") are a few hundred nodes to compose and 387 million values to build.
MAX_VALUES = 100_000


@dataclass
class Located:
    """A loaded document and where each key path sits in the file."""

    path: str
    data: Any
    positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    # how many leading entries of a flattened mapping node came from its merge keys: an
    # anchored mapping is built again at each alias, already flattened
    merged: dict[int, int] = field(default_factory=dict, repr=False)

    def where(self, keypath: KeyPath, *, key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of a value (or of its key), else of its nearest parent."""
        table = self.key_positions if key else self.positions
        kp = tuple(keypath)
        while kp:
            if kp in table:
                return table[kp]
            if not key and kp in self.key_positions:
                return self.key_positions[kp]
            kp = kp[:-1]
        return self.positions.get((), (1, 1))

    def problem(self, keypath: KeyPath, message: str, *, key: bool = False) -> Problem:
        line, col = self.where(keypath, key=key)
        shown = ".".join(str(k) for k in keypath)
        return Problem(self.path, line, col, f"{shown}: {message}" if shown else message)


class YamlProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_text(text: str, path: str) -> Located:
    """Parse YAML text; raise ``YamlProblem`` for syntax errors, unsafe tags and a
    document that expands to more than ``MAX_VALUES`` values."""
    try:
        # the C loader when libyaml is there: same marks, several times faster
        node = yaml.compose(text, Loader=_LOADER)
    except RecursionError:
        # a few hundred levels of nesting in a kilobyte; no file of ours nests ten deep
        raise YamlProblem(Problem(path, 1, 1, "YAML: nested too deep")) from None
    except yaml.YAMLError:
        # errors are rare: read again with the Python loader, whose messages say more
        # ("expected ',' or '}', but got '<scalar>'")
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            raise YamlProblem(Problem(path, line, col, f"YAML syntax: {exc.problem}")) from exc
        except yaml.reader.ReaderError as exc:  # a character YAML forbids (NUL, ...)
            at = exc.position
            line, col = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
            char = exc.character
            shown = f"#x{char:04x}" if isinstance(char, int) else f"#x{ord(char[:1] or ' '):04x}"
            why = f"YAML: unacceptable character {shown}: {exc.reason}"
            raise YamlProblem(Problem(path, line, col, why)) from exc
        except yaml.YAMLError as exc:
            raise YamlProblem(Problem(path, 1, 1, " ".join(f"YAML: {exc}".split()))) from exc
    located = Located(path=path, data=None)
    if node is None:
        located.data = {}
        return located
    constructor = yaml.SafeLoader(text)
    try:
        located.data = _build(node, (), located, constructor, [MAX_VALUES])
    except RecursionError:
        raise YamlProblem(Problem(path, 1, 1, "YAML: nested too deep")) from None
    return located


def read_capped(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes; ``YamlProblem`` when it is larger than ``limit`` (checked before
    reading it whole) or cannot be read."""
    try:
        # not blocking: a FIFO (or a device) would hold the command for ever at open
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise YamlProblem(Problem(str(path), 1, 1, f"cannot read: {exc.strerror}")) from exc
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise YamlProblem(Problem(str(path), 1, 1, "not a regular file"))
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise YamlProblem(Problem(str(path), 1, 1, f"cannot read: {exc.strerror}")) from exc
    if len(data) > limit:
        raise YamlProblem(
            Problem(str(path), 1, 1, f"the file is over the {limit // 1024} KiB limit")
        )
    return data


def load_file(path: Path) -> Located:
    data = read_capped(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem(Problem(str(path), 1, 1, f"not UTF-8 text: {exc.reason}")) from exc
    return load_text(text, str(path))


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap"}


def _build(
    node: yaml.Node, kp: KeyPath, located: Located, ctor: yaml.SafeLoader, budget: list[int]
) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlProblem(
            Problem(
                located.path,
                *_mark(node),
                f"YAML: the document expands to more than {MAX_VALUES:,} values "
                "(aliases that repeat aliases?)",
            )
        )
    located.positions[kp] = _mark(node)
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
        # e.g. !!python/object/apply:os.system: the safe loader refuses it, so do we
        raise YamlProblem(Problem(located.path, *_mark(node), f"YAML: unsafe tag {node.tag}"))
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        merged = located.merged.get(id(node))
        if merged is None:
            explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
            ctor.flatten_mapping(node)  # merge keys (<<) as SafeLoader does: merged first
            merged = located.merged[id(node)] = len(node.value) - explicit
        written: set[str] = set()  # keys the mapping itself gives: those may not repeat
        for i, (key_node, value_node) in enumerate(node.value):
            key = _scalar(key_node, located, ctor)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise YamlProblem(Problem(located.path, *_mark(key_node), "unhashable key"))
            skey = str(key)
            # a key of its own wins over a merged one, and of two merged mappings the one
            # SafeLoader puts later: only a key the mapping itself gives twice is a mistake
            if i >= merged:
                if skey in written:
                    raise YamlProblem(
                        Problem(located.path, *_mark(key_node), f"duplicate key {skey!r}")
                    )
                written.add(skey)
            located.key_positions[(*kp, skey)] = _mark(key_node)
            out[skey] = _build(value_node, (*kp, skey), located, ctor, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*kp, i), located, ctor, budget) for i, item in enumerate(node.value)]
    return _scalar(node, located, ctor)


def _scalar(node: yaml.Node, located: Located, ctor: yaml.SafeLoader) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise YamlProblem(Problem(located.path, *_mark(node), "a key must be a plain value"))
    try:
        return ctor.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        # e.g. !!python/object/apply:os.system: refused by the safe constructor
        raise YamlProblem(Problem(located.path, *_mark(node), f"YAML: {exc.problem}")) from exc
    except ValueError as exc:  # an integer of more than 4,300 digits, which int() refuses
        why = " ".join(str(exc).split(";")[0].split())
        raise YamlProblem(Problem(located.path, *_mark(node), f"YAML: {why}")) from exc


def pydantic_problems(located: Located, errors: list[Mapping[str, Any]]) -> list[Problem]:
    """Turn pydantic ``ValidationError.errors()`` into located problems."""
    problems = []
    for err in errors:
        loc = tuple(p for p in err.get("loc", ()) if not _is_union_tag(p))
        kind = err.get("type", "")
        message = str(err.get("msg", "invalid"))
        if kind == "extra_forbidden":
            problems.append(located.problem(loc, "unknown key", key=True))
        else:
            problems.append(located.problem(loc, message))
    return problems


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the chosen union member's class name into loc; it is not a YAML key
    return isinstance(part, str) and part[:1].isupper()


def unknown_keys(
    located: Located, kp: KeyPath, raw: Mapping[str, Any], known: Iterable[str]
) -> list[Problem]:
    """A located problem for each key of ``raw`` not in ``known``, with "did you mean"."""
    names = tuple(known)
    problems = []
    for key in raw:
        if key in names:
            continue
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        hint = (
            f"; did you mean {close[0]!r}?" if close else f" (expected one of {', '.join(names)})"
        )
        problems.append(located.problem((*kp, key), f"unknown key{hint}", key=True))
    return problems
