"""Schema errors as an analyst reads them: the key path, its place, and a suggestion.

Pydantic reports locations with its own markers (union tags, "[key]"); these are mapped
back to the keys the analyst wrote, and an unknown key or value gets "did you mean".
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from monitor.errors import Problem
from monitor.rules.schema import KIND_ERROR, KINDS, UNION_TAGS, RuleFileSpec
from monitor.yamlsource import KeyPath, Located


def schema_problems(located: Located, exc: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors():
        raw_loc = tuple(err.get("loc", ()))
        problems.append(_one_problem(located, raw_loc, err))
    return sorted(set(problems), key=lambda p: (p.line, p.col, p.message))


def _one_problem(located: Located, raw_loc: tuple[Any, ...], err: Mapping[str, Any]) -> Problem:
    kind = str(err.get("type", ""))
    on_key = "[key]" in raw_loc
    loc: KeyPath = tuple(p for p in raw_loc if p not in UNION_TAGS and p != "[key]")
    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = _allowed_keys(tuple(p for p in raw_loc[:-1]))
        return located.problem(
            loc, unknown_message(f"unknown key {name!r}", name, allowed), key=True
        )
    if kind == KIND_ERROR:
        return located.problem(loc, _kind_message(_value_at(located.data, loc)))
    if kind == "string_pattern_mismatch" and ("[key]" in raw_loc or _is_id_field(loc)):
        what = "id" if on_key else str(loc[-1])
        return located.problem(
            loc,
            f"invalid {what}: use lowercase letters, digits, '_', '-' and '.', "
            "starting with a letter or digit",
            key=on_key,
        )
    message = str(err.get("msg", "invalid"))
    if kind == "literal_error" and isinstance(err.get("input"), str):
        choices = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        return located.problem(
            loc, unknown_message(f"invalid value {err['input']!r}", err["input"], choices)
        )
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind == "missing":
        message = "required key is missing"
    if kind == "model_type" and not loc:
        message = "a rule file is a mapping with entities, metrics, terms, topics and rules"
    return located.problem(loc, message, key=on_key)


def _is_id_field(loc: KeyPath) -> bool:
    return bool(loc) and loc[-1] in ("id", "entity", "metric", "family", "topic")


def unknown_message(message: str, name: str, allowed: Iterable[str]) -> str:
    choices = sorted(allowed)
    if not choices:
        return message
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    return f"{message}; expected one of: {', '.join(choices)}"


def _kind_message(value: Any) -> str:
    kinds = list(KINDS)
    if not isinstance(value, dict):
        return (
            "expected a mapping with one rule kind, such as {change: {...}}; "
            f"kinds: {', '.join(kinds)}"
        )
    if not value:
        return f"give one rule kind: {', '.join(kinds)}"
    if len(value) > 1:
        return f"give exactly one rule kind, found {', '.join(map(str, value))}"
    (name,) = value
    return unknown_message(f"unknown rule kind {name!r}", str(name), kinds)


def _value_at(data: Any, loc: KeyPath) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _strip(tp: Any) -> Any:
    """Drop Annotated and Optional wrappers from a type."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
            continue
        if origin in (Union, UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _allowed_keys(raw_loc: tuple[Any, ...]) -> list[str]:
    """The keys the schema allows at ``raw_loc`` (a pydantic loc, union tags included)."""
    tags = {tag: model for tag, model in KINDS.values()}
    tp: Any = RuleFileSpec
    for part in raw_loc:
        if part in tags:
            tp = tags[part]
            continue
        tp = _strip(tp)
        origin = get_origin(tp)
        if origin is list and isinstance(part, int):
            tp = get_args(tp)[0]
        elif origin is dict:
            tp = get_args(tp)[1]
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        else:
            return []
    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []
