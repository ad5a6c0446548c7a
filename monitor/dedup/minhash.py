"""Near-duplicate level: MinHash signatures over word shingles, LSH band keys, similarity.

Parameters, chosen from the target of issue 4 (pairs at Jaccard >= 0.8 caught with recall
>= 0.95 and precision >= 0.99 after verification) and the cost of the index:

* ``SHINGLE`` = 3 words. One edited word changes three shingles, so a copy with one word
  in thirty edited still sits near Jaccard 0.8; longer shingles would push lightly edited
  copies below the threshold.
* ``NUM_PERM`` = 64 permutations (datasketch's ``affine32`` scheme, words hashed with
  xxh32; computed here in numpy exactly as datasketch does, which tests check against
  datasketch itself: importing datasketch pulls in SciPy, ~50 MB of memory and 0.4 s of
  start-up in every process, for a few lines of arithmetic). The signature stores the
  low 16 bits of each minimum: two different minima agree
  by chance with probability 2^-16, a bias of 1.5e-5 that :func:`similarity` removes, for
  half the bytes (129 per article).
* ``BANDS`` x ``ROWS`` = 12 x 5 (60 of the 64 values). The probability that a pair at
  Jaccard ``j`` shares at least one band key is ``1 - (1 - j**5)**12``:

      j      0.1     0.3     0.5     0.6     0.7     0.8     0.9
      P     0.0001  0.029   0.32    0.62    0.88    0.9915  0.9999

  datasketch's choice for threshold 0.8 gives 0.36 at 0.8 with 64 values (5 bands x
  11 rows) and 0.40 with 128 (9 x 13).
  Five rows per band keep chance candidates rare at scale: a pair of unrelated articles
  at Jaccard 0.02 collides with probability 4e-8, about 0.04 candidates per lookup among
  a million stored articles. Twelve bands mean twelve index rows per article.
* Verification: 64 values estimate Jaccard with a standard deviation of 0.05 at 0.8, too
  coarse to separate 0.78 from 0.82. So an estimate >= ``ACCEPT_ABOVE`` is accepted as is
  (a pair truly below 0.8 reaches 61 of 64 matching values with probability < 0.1%), an
  estimate < ``REJECT_BELOW`` is rejected (a pair at 0.8 falls that low with probability
  3e-5), and anything between is settled by the exact shingle Jaccard of the two texts
  (:func:`jaccard`), which the store can compute because it keeps the clean text.

Changing any of these constants changes stored signatures: bump ``VERSION``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import xxhash

from monitor.dedup.normalize import words

if TYPE_CHECKING:
    from datasketch import MinHash

VERSION = 1
SHINGLE = 3
NUM_PERM = 64
BANDS = 12
ROWS = 5
SEED = 1
NEAR_DUPLICATE = 0.8
ACCEPT_ABOVE = 0.95
REJECT_BELOW = 0.6

_EMPTY = bytes([0])  # the signature of a text without words: no band keys, similar to nothing
_CHANCE = 2.0**-16  # two different 16-bit minima agree by chance
_MASK16 = np.uint32(0xFFFF)


def _affine32_permutations() -> npt.NDArray[np.uint32]:
    """datasketch's ``affine32`` permutations for (NUM_PERM, SEED): ``a`` odd, ``b`` any,
    drawn from ``RandomState(SEED)`` in its order."""
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return np.array([a, b])


_PERMUTATIONS = _affine32_permutations()
_A = _PERMUTATIONS[0].reshape(1, -1)
_B = _PERMUTATIONS[1].reshape(1, -1)
_MAX32 = np.uint32(0xFFFFFFFF)
# Multipliers that place each word of a shingle (odd, so multiplication is a bijection
# mod 2^32): (a, b, c) and (b, a, c) get different hashes.
_C1 = np.uint64(0x9E3779B1)
_C2 = np.uint64(0x85EBCA77)
_LOW32 = np.uint64(0xFFFFFFFF)

# Word -> xxh32. News vocabulary is small next to the word count, so most words are
# hashed once per process; the cap bounds memory in a daemon that runs for months.
_WORD_CACHE: dict[bytes, int] = {}
_WORD_CACHE_MAX = 500_000


def _word_hashes(ws: Sequence[bytes]) -> npt.NDArray[np.uint64]:
    cache = _WORD_CACHE
    try:
        # fromiter over map runs in C: no Python frame and no list per word
        return np.fromiter(map(cache.__getitem__, ws), dtype=np.uint64, count=len(ws))
    except KeyError:
        pass
    # some word is new: hash the words not yet cached (they are few after warm-up)
    if len(cache) >= _WORD_CACHE_MAX:
        cache.clear()
    for w in ws:
        if w not in cache:
            cache[w] = xxhash.xxh32_intdigest(w)
    return np.fromiter(map(cache.__getitem__, ws), dtype=np.uint64, count=len(ws))


def shingles(text: str) -> npt.NDArray[np.uint32]:
    """The sorted, distinct 32-bit hashes of the ``SHINGLE``-word shingles of ``text``.

    A text shorter than one shingle is a single shingle of all its words.
    """
    h = _word_hashes(words(text))
    if h.size == 0:
        return np.empty(0, dtype=np.uint32)
    if h.size < SHINGLE:
        h = np.concatenate([h, np.zeros(SHINGLE - h.size, dtype=np.uint64)])
    # uint64 arithmetic wraps silently on arrays; only the low 32 bits are kept.
    combined = np.sort(((h[:-2] * _C1 + h[1:-1] * _C2 + h[2:]) & _LOW32).astype(np.uint32))
    # sort + mask rather than np.unique, which is several times slower on short arrays
    keep = np.empty(combined.size, dtype=bool)
    keep[0] = True
    np.not_equal(combined[1:], combined[:-1], out=keep[1:])
    return combined[keep]


def _fmix32(h: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """MurmurHash3's 32-bit finalizer, as datasketch pre-mixes each input (a bijection)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def minima(sh: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """The ``NUM_PERM`` minima of the shingle hashes under the affine permutations
    ``a * fmix32(h) + b mod 2^32``: datasketch's ``affine32`` MinHash of the shingles."""
    if sh.size == 0:
        return np.full(NUM_PERM, _MAX32, dtype=np.uint32)
    with np.errstate(over="ignore"):  # the wrap-around is the modulo 2^32
        phv = _fmix32(sh.astype(np.uint32, copy=False)).reshape(-1, 1) * _A + _B
    out: npt.NDArray[np.uint32] = phv.min(axis=0)
    return out


def signature_of(sh: npt.NDArray[np.uint32]) -> bytes:
    """:func:`signature` of a text whose :func:`shingles` the caller has already."""
    if sh.size == 0:
        return _EMPTY
    return pack(minima(sh))


def pack(hashvalues: npt.ArrayLike) -> bytes:
    """The stored form of a MinHash: a version byte, then the low 16 bits of each minimum."""
    low = (np.asarray(hashvalues, dtype=np.uint32) & _MASK16).astype("<u2")
    return bytes([VERSION]) + low.tobytes()


def reference_minhash(text: str) -> MinHash:
    """The same MinHash built by datasketch itself, one shingle per update: the baseline
    that tests compare :func:`signature` with and the benchmark's peer (imported here
    only, when asked for)."""
    from datasketch import MinHash

    m = MinHash(
        num_perm=NUM_PERM,
        seed=SEED,
        hashfunc=int,
        permutations=_PERMUTATIONS,
        scheme="affine32",
    )
    m.update_batch(shingles(text).tolist())
    return m


def signature(text: str) -> bytes:
    """MinHash of the text's word shingles: a version byte, then ``NUM_PERM`` x 16 bits."""
    return signature_of(shingles(text))


def _values(sig: bytes) -> npt.NDArray[np.uint16] | None:
    if sig == _EMPTY:
        return None
    if len(sig) != 1 + 2 * NUM_PERM or sig[0] != VERSION:
        raise ValueError(f"not a version-{VERSION} signature ({len(sig)} bytes)")
    return np.frombuffer(sig, dtype="<u2", offset=1)


def band_keys(sig: bytes) -> list[int]:
    """One key per band, in the signed 64-bit range of a BIGINT column.

    The band number seeds the hash, so equal values in different bands give different keys.
    """
    if _values(sig) is None:
        return []
    body = sig[1:]
    width = 2 * ROWS
    keys = []
    for band in range(BANDS):
        k = xxhash.xxh64_intdigest(body[band * width : (band + 1) * width], seed=band)
        keys.append(k - (1 << 64) if k >= 1 << 63 else k)
    return keys


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the two texts behind two signatures."""
    va, vb = _values(a), _values(b)
    if va is None or vb is None:
        return 0.0
    agree = float(np.count_nonzero(va == vb)) / NUM_PERM
    return min(1.0, max(0.0, (agree - _CHANCE) / (1.0 - _CHANCE)))


def similarities(sig: bytes, others: Sequence[bytes]) -> list[float]:
    """:func:`similarity` of ``sig`` with each of ``others``, in one array operation (a
    new article has tens of band candidates when many texts share boilerplate)."""
    mine = _values(sig)
    if mine is None or not others:
        return [0.0] * len(others)
    for o in others:
        if o != _EMPTY and (len(o) != 1 + 2 * NUM_PERM or o[0] != VERSION):
            _values(o)  # raises: a signature of another version or length
    full = [i for i, o in enumerate(others) if o != _EMPTY]
    out = [0.0] * len(others)
    if full:
        rows = np.frombuffer(b"".join(others[i] for i in full), np.uint8)
        body = rows.reshape(len(full), 1 + 2 * NUM_PERM)[:, 1:].copy().view("<u2")
        agree = np.count_nonzero(body == mine, axis=1) / NUM_PERM
        est = np.clip((agree - _CHANCE) / (1.0 - _CHANCE), 0.0, 1.0)
        for i, e in zip(full, est.tolist(), strict=True):
            out[i] = e
    return out


def jaccard_of(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> float:
    """Exact Jaccard of two shingle sets from :func:`shingles` (0.0 when both are empty)."""
    if a.size == 0 or b.size == 0:
        return 0.0
    # both are sorted and distinct: look each of the shorter up in the longer (a binary
    # search each), instead of sorting the two together as np.intersect1d does
    small, large = (a, b) if a.size <= b.size else (b, a)
    at = np.searchsorted(large, small)
    at[at == large.size] = 0
    inter = int(np.count_nonzero(large[at] == small))
    return inter / (a.size + b.size - inter)


def jaccards_of(a: npt.NDArray[np.uint32], others: Sequence[npt.NDArray[np.uint32]]) -> list[float]:
    """:func:`jaccard_of` of ``a`` with each of ``others``, in one pass of array operations.

    When many stored articles copy one text, a new article has tens of candidates whose
    estimates fall near the threshold. One search of all their shingles in ``a`` saves the
    per-call overhead of numpy, not the search: 263 -> 229 µs for 28 candidates of ~550
    shingles.
    """
    if a.size == 0 or not others:
        return [0.0] * len(others)
    sizes = np.fromiter((o.size for o in others), dtype=np.int64, count=len(others))
    theirs = np.concatenate(others)
    at = np.searchsorted(a, theirs)
    at[at == a.size] = 0
    # hits counted per candidate: a running count read at each candidate's end and start
    seen = np.zeros(theirs.size + 1, dtype=np.int64)
    np.cumsum(a[at] == theirs, out=seen[1:])
    ends = np.cumsum(sizes)
    inter = seen[ends] - seen[ends - sizes]
    return (inter / (a.size + sizes - inter)).tolist()  # type: ignore[no-any-return]


def jaccard(text_a: str, text_b: str) -> float:
    """Exact word-shingle Jaccard of two texts: settles estimates near the threshold."""
    return jaccard_of(shingles(text_a), shingles(text_b))


def verify(estimate: float, exact: Callable[[], float]) -> float | None:
    """The similarity of a candidate pair if it is a near-duplicate, else None.

    ``exact`` computes the exact Jaccard and is called only for an estimate too close to
    the threshold to trust (see the module docstring).
    """
    if estimate >= ACCEPT_ABOVE:
        return estimate
    if estimate < REJECT_BELOW:
        return None
    j = exact()
    return j if j >= NEAR_DUPLICATE else None


def candidate_probability(j: float, bands: int = BANDS, rows: int = ROWS) -> float:
    """The LSH S-curve: probability that a pair at Jaccard ``j`` shares a band key."""
    return float(1.0 - (1.0 - j**rows) ** bands)
