"""Load-time checks of analyst regular expressions (RELIABILITY.md R3, O5).

Patterns run with the ``regex`` package, whose ``timeout=`` bounds every match: that is
the second line. The first is here, at load: a pattern whose shape can backtrack without
bound is refused with its location, before any article meets it.

* A pattern analysis (:func:`ambiguous_repeat`) reads the pattern's syntax tree and
  refuses a repeated group whose iterations can split the same text in many ways: the
  group can match nothing, or a part of it of varying length (a repeat, an optional
  part, a choice) runs over characters that can also start the next iteration
  (``(\\w+\\s?)*X``, ``(a+)+$``, ``(.*a){12}``, ``(a|aa)+$``), or it starts with
  alternatives that can match the same text. A group that
  repeats at most three times is left alone (its cost is a small power of the length).
* Probes built from the pattern (its own literal characters repeated, then a character
  it does not expect) are run with a short timeout, for what the analysis cannot read.
"""

from __future__ import annotations

import re
import re._constants as sre  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
import string
from collections.abc import Callable, Iterable
from typing import Any

import regex

PROBE_TIMEOUT_S = 0.05
PROBE_LENGTH = 3000
# A group repeated at most this many times costs at most length**this: tolerable.
SMALL_REPEAT = 3

# The characters the analysis reasons about: every printable ASCII character, the usual
# white space, and a few beyond ASCII standing for letters, digits and spaces elsewhere.
ALPHABET = frozenset(string.printable) | frozenset("é中٣\u00a0\u2019")
_UNBOUNDED = sre.MAXREPEAT


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "_"


def _is_linebreak(c: str) -> bool:
    return c in "\n\r"


_CATEGORIES: dict[str, Callable[[str], bool]] = {
    "DIGIT": str.isdigit,
    "SPACE": str.isspace,
    "WORD": _is_word,
    "LINEBREAK": _is_linebreak,
}


def _category(cat: Any) -> frozenset[str]:
    name = str(cat)
    for key, test in _CATEGORIES.items():
        if key in name:
            hit = frozenset(c for c in ALPHABET if test(c))
            return ALPHABET - hit if "NOT" in name else hit
    return ALPHABET


def _in(items: Iterable[tuple[Any, Any]]) -> frozenset[str]:
    chars: set[str] = set()
    negate = False
    for op, av in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            chars.add(chr(av))
        elif op is sre.RANGE:
            lo, hi = av
            chars.update(c for c in ALPHABET if lo <= ord(c) <= hi)
        elif op is sre.CATEGORY:
            chars.update(_category(av))
    got = frozenset(c for c in chars if c in ALPHABET)
    return ALPHABET - got if negate else got


def _single(op: Any, av: Any) -> frozenset[str] | None:
    """The characters a one-character item matches; None for other items."""
    if op is sre.LITERAL:
        return frozenset({chr(av)}) & ALPHABET or frozenset({"é"})
    if op is sre.NOT_LITERAL:
        return ALPHABET - {chr(av)}
    if op is sre.ANY:
        return ALPHABET - {"\n"}
    if op is sre.IN:
        return _in(av)
    return None


def _repeat(op: Any) -> bool:
    return op in (sre.MAX_REPEAT, sre.MIN_REPEAT) or op is getattr(sre, "POSSESSIVE_REPEAT", None)


def _nullable(items: list[tuple[Any, Any]]) -> bool:
    return all(_item_nullable(op, av) for op, av in items)


def _item_nullable(op: Any, av: Any) -> bool:
    if _single(op, av) is not None:
        return False
    if _repeat(op):
        lo, _, body = av
        return bool(lo == 0 or _nullable(list(body)))
    if op is sre.SUBPATTERN:
        return _nullable(list(av[-1]))
    if op is sre.BRANCH:
        return any(_nullable(list(b)) for b in av[1])
    if op in (sre.ATOMIC_GROUP,):
        return _nullable(list(av))
    return True  # anchors, look-arounds, back references: zero width or unknown


def _first(items: list[tuple[Any, Any]]) -> frozenset[str]:
    """The characters that can start a match of ``items``."""
    out: set[str] = set()
    for op, av in items:
        out |= _item_first(op, av)
        if not _item_nullable(op, av):
            break
    return frozenset(out)


def _item_first(op: Any, av: Any) -> frozenset[str]:
    single = _single(op, av)
    if single is not None:
        return single
    if _repeat(op):
        return _first(list(av[2]))
    if op is sre.SUBPATTERN:
        return _first(list(av[-1]))
    if op is sre.BRANCH:
        return frozenset().union(*(_first(list(b)) for b in av[1]))
    if op is sre.ATOMIC_GROUP:
        return _first(list(av))
    return frozenset()


def _chars(items: list[tuple[Any, Any]]) -> frozenset[str]:
    """Every character some part of ``items`` can match."""
    out: set[str] = set()
    for op, av in items:
        single = _single(op, av)
        if single is not None:
            out |= single
        elif _repeat(op):
            out |= _chars(list(av[2]))
        elif op is sre.SUBPATTERN:
            out |= _chars(list(av[-1]))
        elif op is sre.BRANCH:
            for b in av[1]:
                out |= _chars(list(b))
        elif op is sre.ATOMIC_GROUP:
            out |= _chars(list(av))
    return frozenset(out)


def _variable_inside(items: list[tuple[Any, Any]]) -> Iterable[frozenset[str]]:
    """What each part of ``items`` whose length varies (a repeat such as ``+``, ``*``,
    ``?``, ``{2,5}``, or a choice between alternatives) can match: where one repetition
    of the enclosing group may end early or late."""
    for op, av in items:
        if _repeat(op):
            lo, hi, body = av
            if lo != hi:
                yield _chars(list(body))
            yield from _variable_inside(list(body))
        elif op is sre.SUBPATTERN:
            yield from _variable_inside(list(av[-1]))
        elif op is sre.BRANCH:
            yield frozenset().union(*(_chars(list(b)) for b in av[1]))
        # an atomic group never gives back what it took: nothing inside it varies


def _leading_branch(items: list[tuple[Any, Any]]) -> list[list[tuple[Any, Any]]] | None:
    for op, av in items:
        if op is sre.BRANCH:
            return [list(b) for b in av[1]]
        if op is sre.SUBPATTERN:
            return _leading_branch(list(av[-1]))
        if not _item_nullable(op, av):
            return None
    return None


# ``regex``-only syntax, as ``re`` classes the analysis can read: each stands for the
# characters it matches closely enough to tell whether two parts of a pattern overlap
# (\p{Lu} and \p{Ll} must stay apart for (\p{Lu}\p{Ll}+)+ to pass).
_PROPERTIES = {
    "lu": "A-Z", "uppercase_letter": "A-Z", "upper": "A-Z",
    "ll": "a-z", "lowercase_letter": "a-z", "lower": "a-z",
    "n": "0-9", "nd": "0-9", "number": "0-9", "digit": "0-9",
    "z": " \\t", "zs": " ", "separator": " \\t", "space": " \\t",
    "p": "!-/:-@\\[-`{-~", "punct": "!-/:-@\\[-`{-~", "punctuation": "!-/:-@\\[-`{-~",
    "m": "\u0300-\u036f", "mn": "\u0300-\u036f", "mc": "\u0300-\u036f",
    "me": "\u0300-\u036f", "mark": "\u0300-\u036f",
    "l": "^", "letter": "^", "alpha": "^", "alphabetic": "^",
}  # fmt: skip
_PROPERTY = re.compile(r"\\([pP])\{\^?([^}]*)\}")
_REGEX_FLAGS = re.compile(r"\(\?V[01]\)")


_CLASS = re.compile(r"\[(?:\\.|[^\]\\])*\]")


def _as_re(pattern: str) -> str | None:
    """``pattern`` with \\p{..} as character classes and the version flags dropped; None
    when it names a property not read here (\\p{Han}, \\p{Greek}: which characters two
    of them share is beyond this reading; the probes judge). Inside a class [...] a
    property is read as word characters (or not), near enough."""
    names = [m.group(2).lower().replace(" ", "_") for m in _PROPERTY.finditer(pattern)]
    if any(name not in _PROPERTIES for name in names):
        return None

    def inside(m: re.Match[str]) -> str:
        return "\\W" if m.group(1) == "P" else "\\w"

    def one(m: re.Match[str]) -> str:
        chars = _PROPERTIES[m.group(2).lower().replace(" ", "_")]
        negated = m.group(1) == "P"
        if chars == "^":  # the letters
            return "[\\W\\d_]" if negated else "[^\\W\\d_]"
        return f"[^{chars}]" if negated else f"[{chars}]"

    text = _REGEX_FLAGS.sub("", pattern)
    text = _CLASS.sub(lambda c: _PROPERTY.sub(inside, c.group(0)), text)
    return _PROPERTY.sub(one, text)


def ambiguous_repeat(pattern: str) -> str | None:
    """The shape of a repeated group that can backtrack without bound, or None."""
    for reading in (pattern, _as_re(pattern)):
        if reading is None:
            continue
        try:
            tree = sre_parse.parse(reading)
        except (re.error, OverflowError, RecursionError, ValueError):
            continue  # a syntax only ``regex`` reads: the probes judge it
        return _walk(list(tree))
    return None


def _walk(items: list[tuple[Any, Any]]) -> str | None:
    for op, av in items:
        if _repeat(op):
            _, hi, body = av
            body = list(body)
            if hi == _UNBOUNDED or hi > SMALL_REPEAT:
                why = _why(body)
                if why is not None:
                    return why
            inner = _walk(body)
        elif op is sre.SUBPATTERN:
            inner = _walk(list(av[-1]))
        elif op is sre.BRANCH:
            inner = next((w for b in av[1] if (w := _walk(list(b))) is not None), None)
        elif op is sre.ATOMIC_GROUP:
            inner = None  # an atomic group never gives back what it took
        else:
            inner = None
        if inner is not None:
            return inner
    return None


def _why(body: list[tuple[Any, Any]]) -> str | None:
    if _nullable(body):
        return "a repeated group that can match nothing"
    start = _first(body)
    if any(chars & start for chars in _variable_inside(body)):
        return (
            "a repeated group with a part of varying length over characters that can also "
            "start the next repetition (like (\\w+\\s?)*, (.*a){12} or (a|aa)+)"
        )
    branches = _leading_branch(body)
    if branches is not None:
        firsts = [_first(b) for b in branches]
        for i, a in enumerate(firsts):
            if any(a & b for b in firsts[i + 1 :]):
                return (
                    "a repeated group of alternatives that can match the same text (like (a|aa)+)"
                )
    return None


_LEAD = re.compile(r"(?:\(\?[a-zA-Z]+\))*\^?([\w ]*)")


def _probes(pattern: str) -> list[str]:
    # Literal characters of the pattern, repeated, then a character no pattern is likely to
    # expect: the classic shape that makes nested quantifiers try every split. Each after
    # the pattern's literal start too ("Qwen(a|aa)+$" backtracks only after "Qwen").
    letters = sorted({c for c in pattern if c.isalnum()})[:12]
    seeds = [*letters, "a", "1", " ", "a ", "a1", "-a"]
    lead = _LEAD.match(pattern)
    heads = ["", lead.group(1)] if lead is not None and lead.group(1) else [""]
    return [head + seed * (PROBE_LENGTH // len(seed)) + "\x00!" for head in heads for seed in seeds]


def check_pattern(pattern: str) -> str | None:
    """Why ``pattern`` is unusable, or None when it is fine."""
    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        return f"invalid regular expression: {exc}"
    shape = ambiguous_repeat(pattern)
    if shape is not None:
        return (
            f"the pattern can backtrack without bound: {shape}; make the repeated part "
            "unambiguous (e.g. each repetition starts with a character the inner repeat "
            "cannot match)"
        )
    if compiled.search("") is not None:
        return "the pattern matches the empty string, so it would match every article"
    try:
        for probe in _probes(pattern):
            try:
                compiled.search(probe, timeout=PROBE_TIMEOUT_S)
            except TimeoutError:
                # The timeout is wall time: a busy machine (a test suite, a daemon's
                # other work) can stall a linear pattern past it. Backtracking without
                # bound on a probe this long takes far more than ten times as long, so a
                # second try with that much time tells the two apart.
                compiled.search(probe, timeout=PROBE_TIMEOUT_S * 10)
    except TimeoutError:
        return (
            "the pattern is unbounded: it takes too long on a long input (catastrophic "
            "backtracking, e.g. nested quantifiers like (a+)+); rewrite it"
        )
    return None
