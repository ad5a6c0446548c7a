"""Which literals a term pattern needs, so that most texts skip it (issue 5, point 8).

Running an analyst's pattern costs a scan of the text; a text that lacks every
literal the pattern needs cannot match, and finding that out costs one shared scan
(``find_terms``). A family's pattern is also searched one top-level alternative at a
time: the ``regex`` engine tries an alternation at every character, while a single
alternative that opens with a literal lets it skip ahead.
"""

from __future__ import annotations

import re

# A pattern's opening literal: after an optional "\b", a run of letters, digits and
# "-" ("\bQwen[0-9]", "\bGPT-[0-9]"), outside any group or class.
_OPENING_LITERAL = re.compile(r"(?:\\b)?([A-Za-z0-9-]+)")
# Inline flags ("(?i)", "(?i:...)", "(?V1)") may change what a literal matches.
_INLINE_FLAGS = re.compile(r"\(\?(?!P)[a-zA-Z^-]")


def required_prefix(pattern: str) -> str:
    """A literal that opens every match of the analyst ``pattern``, or "" if none is sure.

    Most term families name a brand ("\\bQwen[0-9]..."): a text without the brand
    cannot match, and a substring search says so far faster than running the
    pattern (issue 5, point 8). Conservative: flags, a top-level "|" or anything
    unusual give "" (no shortcut).
    """
    m = _OPENING_LITERAL.match(pattern)
    if m is None or _INLINE_FLAGS.search(pattern) or _top_level_bar(pattern):
        return ""
    literal = m.group(1)
    if pattern[m.end() : m.end() + 1] in ("?", "*", "+", "{"):
        literal = literal[:-1]  # the quantifier applies to the last character only
    return literal


# What may open a branch before its literal: a word boundary, or a negative lookbehind
# without groups ("(?<![A-Za-z0-9-])o[1-9]"), which takes no characters.
_SKIPPABLE = re.compile(r"(?:\\b|\(\?<?![^()]*\))+")
# A small class of plain characters or one range: "[Ss]", "['’]", "[1-9]".
_SMALL_CLASS = re.compile(r"\[((?:[A-Za-z0-9'’ -](?!-[A-Za-z0-9]))+|[0-9]-[0-9])\]")
_MAX_LITERALS = 12


# Backreferences and inline flags tie the alternatives of a pattern together.
_UNSPLITTABLE = re.compile(r"\\[1-9]|\(\?P=|\(\?[a-zA-Z]+\)")
# A gate costs a scan of the text per literal: more than a few, or one character,
# cost more than running the pattern, which scans the text once anyway.
_MAX_GATES = 4


def term_branches(pattern: str) -> list[str]:
    """A family's pattern as its top-level alternatives, each searched on its own.

    The ``regex`` engine tries a pattern that opens with an alternation at every
    character; each alternative alone opens with a literal it can skip to, which is
    several times faster. Where two alternatives match overlapping text, the first
    listed wins (``find_terms``), as it would inside one pattern.
    """
    if _UNSPLITTABLE.search(pattern):
        return [pattern]
    branches = _top_level_branches(pattern)
    return branches if all(branches) else [pattern]


def gate_literals(branch: str) -> tuple[str, ...]:
    """The literals worth checking before running ``branch``: () to always run it.

    From the opening of the branch or from a lookbehind in it ("...(?<=DeepSeek's )R1"
    needs "DeepSeek"), whichever gives the longest literals.
    """
    candidates = [required_literals(branch)]
    depth = 0
    i = 0
    while i < len(branch):
        c = branch[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = branch.find("]", i + 2)
            i = len(branch) if j == -1 else j + 1
            continue
        if c == "(":
            if depth == 0 and branch.startswith("(?<=", i):
                end = _group_end(branch, i)
                if end is not None:
                    candidates.append(required_literals(branch[i + 4 : end]))
            depth += 1
        elif c == ")":
            depth -= 1
        i += 1
    usable = [c for c in candidates if c and len(c) <= _MAX_GATES and min(map(len, c)) >= 2]
    if not usable:
        return ()
    return max(usable, key=lambda c: (min(map(len, c)), -len(c)))


def required_literals(pattern: str) -> tuple[str, ...]:
    """Literals such that every text ``pattern`` matches in holds one of them; () if unsure.

    Generalises :func:`required_prefix` to alternations, small leading classes and
    lookbehinds: "\\bDeep[Ss]eek-R1|..." needs "DeepSeek" or "Deepseek"; "(?<=\\bBaidu's )X1"
    needs "Baidu"; "(?<![a-z])o[1-9]" needs one of "o1" ... "o9". A text holding none of
    them cannot match, and a substring search says so far faster than the pattern.
    """
    if _INLINE_FLAGS.search(pattern) and not pattern.startswith("(?<"):
        return ()
    out: list[str] = []
    for branch in _top_level_branches(pattern):
        found = _branch_literals(branch)
        if not found:
            return ()
        out.extend(found)
    unique = tuple(dict.fromkeys(out))
    return unique if len(unique) <= _MAX_LITERALS else ()


def _branch_literals(branch: str) -> tuple[str, ...]:
    """Literals one of which every match of ``branch`` (no top-level "|") contains."""
    if branch.startswith("(?<="):
        # A positive lookbehind: what it needs is in the text, just before the match.
        end = _group_end(branch, 0)
        return required_literals(branch[4:end]) if end is not None else ()
    heads = [""]
    at = 0
    while at < len(branch):
        skip = _SKIPPABLE.match(branch, at)
        if skip is not None and skip.end() > at:
            if heads != [""]:
                break
            at = skip.end()
            continue
        if branch.startswith("(?:", at):
            end = _group_end(branch, at)
            if end is None or heads != [""]:
                break
            if branch[end + 1 : end + 2] in ("?", "*") or branch.startswith("{0", end + 1):
                at = end + 1 + (1 if branch[end + 1] in "?*" else branch.index("}", end) - end)
                continue  # optional: what follows it is still in every match
            return required_literals(branch[at + 3 : end])
        cls = _SMALL_CLASS.match(branch, at)
        if cls is not None and min(map(len, heads)) >= 3:
            break  # long enough to be rare: more searches would cost more than they save
        if cls is not None:
            body = cls.group(1)
            chars = (
                [chr(c) for c in range(ord(body[0]), ord(body[2]) + 1)]
                if (len(body) == 3 and body[1] == "-")
                else list(dict.fromkeys(body))
            )
            if len(heads) * len(chars) > _MAX_LITERALS or branch[cls.end() : cls.end() + 1] in (
                "?",
                "*",
                "{",
            ):
                break
            heads = [h + c for h in heads for c in chars]
            at = cls.end()
            continue
        lit = _OPENING_LITERAL.match(branch, at)
        if lit is None or not lit.group(1) or lit.start(1) != at:
            break
        word = lit.group(1)
        if branch[lit.end() : lit.end() + 1] in ("?", "*", "{"):
            heads = [h + word[:-1] for h in heads]
            break
        heads = [h + word for h in heads]
        at = lit.end()
    return tuple(h for h in heads if h) if all(heads) else ()


def _group_end(pattern: str, start: int) -> int | None:
    """The index of the ")" closing the group opened at ``pattern[start]``."""
    depth = 0
    i = start
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = pattern.find("]", i + 2)
            if j == -1:
                return None
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _top_level_branches(pattern: str) -> list[str]:
    """``pattern`` split at its top-level "|" (the whole pattern when there is none)."""
    if not _top_level_bar(pattern):
        return [pattern]
    parts: list[str] = []
    depth = 0
    last = i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[last:i])
            last = i + 1
        i += 1
    parts.append(pattern[last:])
    return parts


def _top_level_bar(pattern: str) -> bool:
    """Does ``pattern`` hold an alternation outside every group (or is it unclear)?"""
    depth = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            # Skip the class: a "]" right after "[" or "[^" is a member, not its end.
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                if pattern[j] == "[":
                    return True  # a nested set (V1 syntax): do not guess
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth <= 0:
            return True
        i += 1
    return False
