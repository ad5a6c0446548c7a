"""Figures listed in the order of the names before them: "X and Y fell 2% and 4%, respectively".

Nearest-name attribution would give both figures to Y. "Respectively" says the k
figures just before it pair, in order, with the last k names (a name said twice in a
row, "Google parent Alphabet", counts once).
"""

from __future__ import annotations

import re

from monitor.extract.entities import CONF_BEFORE, Mention, Owner
from monitor.extract.quantities import Quantity

# Between two figures of one list: "2.1% and 4.2%", "10%, 12% and 15%".
_LIST_JOIN = re.compile(r"\s*(?:,\s*(?:and\s+)?|\s+and\s+|\s+to\s+)\s*")
_WORD = "respectively"


def pair_respectively(
    text: str,
    sentence: tuple[int, int],
    qs: list[Quantity],
    mentions: list[Mention],
    owners: list[Owner],
) -> list[Owner]:
    """``owners`` with the figures of a "respectively" list given to their names."""
    s0, s1 = sentence
    at = text.find(_WORD, s0, s1)
    if at == -1:
        return owners
    # The figures just before the word, joined as one list.
    last = max((i for i, q in enumerate(qs) if q.end <= at), default=-1)
    if last < 1:
        return owners
    first = last
    while first > 0 and _LIST_JOIN.fullmatch(text, qs[first - 1].end, qs[first].start):
        first -= 1
    k = last - first + 1
    if k < 2:
        return owners
    names: list[Mention] = []
    for m in mentions:
        if m.end > qs[first].start:
            break
        if names and names[-1].entity == m.entity:
            names[-1] = m
        else:
            names.append(m)
    if len(names) < k:
        return owners
    out = list(owners)
    for i, m in zip(range(first, last + 1), names[-k:], strict=True):
        out[i] = Owner(m.entity, CONF_BEFORE, m)
    return out
