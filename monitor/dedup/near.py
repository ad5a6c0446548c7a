"""Near-duplicate verdicts: which candidate an article copies, verified. Pure.

The band index (``monitor.store.band_index``) hands over the candidates that share a band
key, with their stored signatures. Each is verified against its signature, and an
estimate too close to the threshold to trust is settled by the exact shingle Jaccard of
the two texts (see ``monitor.dedup.minhash``), read through the callback only for those.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt

from monitor.dedup import minhash

# Shingles of recently checked stored texts. An article that many others nearly copy (a
# wire story and its rewrites) is checked again and again; its text never changes, and the
# text itself is the key, so no database or id can ever see another's shingles.
_SHINGLES: OrderedDict[str, npt.NDArray[np.uint32]] = OrderedDict()
_SHINGLES_MAX = 2048  # ~8 KB each (text and shingles): ~16 MB at most
_SHINGLES_LOCK = threading.Lock()  # pollers of several sources may place at once


def cached_shingles(text: str) -> npt.NDArray[np.uint32]:
    with _SHINGLES_LOCK:
        got = _SHINGLES.get(text)
        if got is not None:
            _SHINGLES.move_to_end(text)
            return got
    got = minhash.shingles(text)
    with _SHINGLES_LOCK:
        _SHINGLES[text] = got
        if len(_SHINGLES) > _SHINGLES_MAX:
            _SHINGLES.popitem(last=False)
    return got


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    article_id: int
    similarity: float
    estimated: float  # the MinHash estimate, kept to explain the verdict
    exact_checked: bool  # the estimate fell between REJECT_BELOW and ACCEPT_ABOVE


def find_near(
    sig: bytes,
    text: str,
    candidates: Mapping[int, bytes],
    read_texts: Callable[[Sequence[int]], Mapping[int, str]],
    shingles: npt.NDArray[np.uint32] | None = None,
) -> NearDuplicate | None:
    """The most similar candidate at Jaccard >= ``NEAR_DUPLICATE``, verified; the earlier
    article wins a tie. ``read_texts`` is asked only for the candidates whose estimate is
    too close to the threshold to trust."""
    if not candidates:
        return None
    ids = list(candidates)
    rough = minhash.similarities(sig, [candidates[c] for c in ids])
    # below REJECT_BELOW a candidate is no near-duplicate (minhash.verify): most of them,
    # when many stored articles share the chrome of one outlet
    estimates = {
        cid: est for cid, est in zip(ids, rough, strict=True) if est >= minhash.REJECT_BELOW
    }
    unsure = [cid for cid, est in estimates.items() if est < minhash.ACCEPT_ABOVE]
    texts = read_texts(unsure) if unsure else {}
    mine: list[npt.NDArray[np.uint32]] = [] if shingles is None else [shingles]

    def exact(cid: int) -> float:
        if not mine:
            mine.append(minhash.shingles(text))
        return minhash.jaccard_of(mine[0], cached_shingles(texts.get(cid, "")))

    sure: list[NearDuplicate] = []
    for cid, est in estimates.items():
        sim = minhash.verify(est, partial(exact, cid))
        if sim is not None:
            sure.append(NearDuplicate(cid, sim, est, exact_checked=cid in texts))
    if not sure:
        return None
    return min(sure, key=lambda n: (-n.similarity, n.article_id))
