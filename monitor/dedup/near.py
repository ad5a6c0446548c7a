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

# Shingles of recently checked stored texts, by content hash. An article that many others
# nearly copy (a wire story and its rewrites) is checked again and again: with its
# shingles kept, its text is not even read. The key is the hash of the text's normalised
# words (``monitor.dedup.normalize.content_hash``), from which the shingles are made: one
# key, one set of shingles, whatever database or article id the text came from.
_SHINGLES: OrderedDict[str, npt.NDArray[np.uint32]] = OrderedDict()
_SHINGLES_MAX = 2048  # ~2 KB each: ~4 MB at most
_SHINGLES_LOCK = threading.Lock()  # pollers of several sources may place at once


def _cached(key: str) -> npt.NDArray[np.uint32] | None:
    with _SHINGLES_LOCK:
        got = _SHINGLES.get(key)
        if got is not None:
            _SHINGLES.move_to_end(key)
        return got


def _remember(key: str, shingles: npt.NDArray[np.uint32]) -> None:
    with _SHINGLES_LOCK:
        _SHINGLES[key] = shingles
        if len(_SHINGLES) > _SHINGLES_MAX:
            _SHINGLES.popitem(last=False)


def shingles_of(
    ids: Sequence[int],
    keys: Mapping[int, str],
    read_texts: Callable[[Sequence[int]], Mapping[int, str]],
) -> dict[int, npt.NDArray[np.uint32]]:
    """The shingles of candidates: kept ones by content hash (``keys``), the others made
    from their texts, read in one call (a text that cannot be read has none)."""
    out: dict[int, npt.NDArray[np.uint32]] = {}
    missing: list[int] = []
    for cid in ids:
        key = keys.get(cid)
        got = None if key is None else _cached(key)
        if got is None:
            missing.append(cid)
        else:
            out[cid] = got
    if missing:
        texts = read_texts(missing)
        for cid in missing:
            text = texts.get(cid)
            out[cid] = minhash.shingles(text or "")
            key = keys.get(cid)
            if text is not None and key is not None:
                _remember(key, out[cid])
    return out


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
    keys: Mapping[int, str] | None = None,
) -> NearDuplicate | None:
    """The most similar candidate at Jaccard >= ``NEAR_DUPLICATE``, verified; the earlier
    article wins a tie. ``read_texts`` is asked only for the candidates whose estimate is
    too close to the threshold to trust, and whose shingles are not kept under their
    content hash in ``keys``."""
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
    exact: dict[int, float] = {}
    if unsure:
        mine = minhash.shingles(text) if shingles is None else shingles
        theirs = shingles_of(unsure, keys or {}, read_texts)
        exact = dict(
            zip(unsure, minhash.jaccards_of(mine, [theirs[c] for c in unsure]), strict=True)
        )

    sure: list[NearDuplicate] = []
    for cid, est in estimates.items():
        # verify() asks for the exact figure of the unsure alone: all of them are in exact
        sim = minhash.verify(est, partial(exact.__getitem__, cid))
        if sim is not None:
            sure.append(NearDuplicate(cid, sim, est, exact_checked=cid in exact))
    if not sure:
        return None
    return min(sure, key=lambda n: (-n.similarity, n.article_id))
