"""The recent part of the band index on SQLite: an append-only log, merged in bulk.

A band key is a random 64-bit number, so each of an article's twelve keys lands on its own
page of the ``dedup_band`` B-tree. Once the index has more pages than a batch has keys
(past ~25k articles), every key of a batch dirties a page of its own, and SQLite's WAL
writes, then checkpoints, whole pages: twelve 4 KB page writes per article. That is what
made the near-duplicate levels 35% dearer at 1M stored articles than at 10k
(tests/bench/bench_dedup.py).

On SQLite the band keys of newly placed articles are appended to ``dedup_band_log``
instead, one row per article, so a batch fills a few consecutive pages. When the log holds
``MERGE_AT`` articles, the batch that gets there moves them into ``dedup_band`` in key
order: the keys of 40,000 articles share the pages they land on, about one page write per
article at 1M stored.

The log has no index on the key. Each process keeps the log's rows in memory (a
:class:`Tail` per engine): at the start of every batch it reads the rows appended since
its last look, by itself or by any other process, and drops those a merge has moved to
``dedup_band``. A process that starts reads the whole log (at most ``MERGE_AT`` rows, about
0.15 s), so a restart rebuilds nothing that is not stored.

Every SQLite transaction of the store holds the write lock (BEGIN IMMEDIATE), so sequence
numbers commit in order and a tail read by sequence misses nothing. PostgreSQL writes band
keys straight to ``dedup_band``: there, concurrent transactions commit sequence numbers out
of order, which a tail read by sequence would miss, and its WAL logs changed rows rather
than whole pages.
"""

from __future__ import annotations

import struct
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    import numpy.typing as npt

    from monitor.store.plain_sql import PlainSql

# Articles in the log before it is merged. A merge writes each page of dedup_band that
# the log's keys land on once: at 1M stored (~47k pages) 40,000 articles (480k keys)
# touch nearly all of them, ~1.2 page writes per article. Measured at 1M stored, a merge
# cost ~25 us per article at 40,000 against ~37 at 20,000. The tail costs ~0.3 KB of
# memory per article (~12 MB at most). Past a few million stored articles a larger value
# pays.
MERGE_AT = 40_000

INSERT_BAND = "INSERT INTO dedup_band (key, article_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"


def pack(keys: Sequence[int]) -> bytes:
    return struct.pack(f"<{len(keys)}q", *keys)


def unpack(blob: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(blob) // 8}q", blob)


FOLD = 1024  # articles gathered in a dict before they join the tail's sorted arrays


class Tail:
    """One process's copy of the log of one database: band key -> article ids.

    Most of it is three sorted arrays (key, article id, sequence number), 24 bytes a key;
    the articles read since the last fold wait in a dict. A dict of every key cost ~1.3
    KB an article (51 MB at ``MERGE_AT``), the arrays ~0.3 KB (12 MB): ``monitor ingest``
    of 100,000 files peaked above 300 MB with it. A batch's lookup is a binary search of
    its ~1,200 keys; a fold sorts ~12,000 keys and inserts them (~2 ms).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self.last = 0  # the highest sequence number read
        self._last_row: tuple[int, bytes] | None = None
        empty = np.empty(0, dtype=np.int64)
        # sorted by key, then by sequence number (oldest first among equal keys)
        self._keys, self._ids, self._seqs = empty, empty, empty
        self._folded = 0  # articles in the arrays
        # read since the last fold, newer than everything in the arrays: rows in order and
        # band key -> article id, or a list of them when several share the key
        self._recent: list[tuple[int, int, bytes]] = []
        self._by_key: dict[int, int | list[int]] = {}

    def __len__(self) -> int:
        return self._folded + len(self._recent)

    def hits(self, keys: Sequence[int]) -> dict[int, list[int]]:
        """The logged articles of each of ``keys`` that has any, oldest first."""
        got: dict[int, list[int]] = {}
        if self._folded and keys:
            wanted = np.fromiter(keys, dtype=np.int64, count=len(keys))
            lo = np.searchsorted(self._keys, wanted, "left")
            hi = np.searchsorted(self._keys, wanted, "right")
            for i in np.flatnonzero(hi > lo).tolist():
                got[int(wanted[i])] = self._ids[lo[i] : hi[i]].tolist()
        by_key = self._by_key
        for key in by_key.keys() & keys:
            ids = by_key[key]
            got.setdefault(key, []).extend([ids] if isinstance(ids, int) else ids)
        return got

    def sync(self, sql: PlainSql) -> None:
        """Catch up with the log as the current transaction sees it."""
        lo, hi = sql.rows("SELECT MIN(seq), MAX(seq) FROM dedup_band_log", ())[0]
        if hi is None:  # empty: everything was merged
            self._drop_below(self.last + 1)
            return
        # Rows read within a transaction that was then rolled back leave ``last`` ahead
        # of the log, and their sequence numbers are given out again: start over.
        if hi < self.last or (lo <= self.last and self._row(sql, self.last) != self._last_row):
            self._clear()
        self._drop_below(lo)
        for seq, aid, blob in sql.rows(
            "SELECT seq, article_id, keys FROM dedup_band_log WHERE seq > %s ORDER BY seq",
            (max(self.last, lo - 1),),
        ):
            self._add(int(seq), int(aid), bytes(blob))

    @staticmethod
    def _row(sql: PlainSql, seq: int) -> tuple[int, bytes] | None:
        got = sql.rows("SELECT article_id, keys FROM dedup_band_log WHERE seq = %s", (seq,))
        return (int(got[0][0]), bytes(got[0][1])) if got else None

    def _add(self, seq: int, aid: int, blob: bytes) -> None:
        self._recent.append((seq, aid, blob))
        _index(self._by_key, aid, unpack(blob))
        self.last, self._last_row = seq, (aid, blob)
        if len(self._recent) >= FOLD:
            self._fold()

    def _fold(self) -> None:
        """Move the recent rows into the sorted arrays."""
        rows = self._recent
        keys = np.frombuffer(b"".join(blob for _, _, blob in rows), dtype="<i8")
        counts = [len(blob) // 8 for _, _, blob in rows]
        ids = np.repeat(np.array([aid for _, aid, _ in rows], dtype=np.int64), counts)
        seqs = np.repeat(np.array([seq for seq, _, _ in rows], dtype=np.int64), counts)
        order = np.argsort(keys, kind="stable")  # equal keys stay in sequence order
        keys, ids, seqs = keys[order].astype(np.int64), ids[order], seqs[order]
        at = np.searchsorted(self._keys, keys, "right")  # after the older ones
        self._keys = np.insert(self._keys, at, keys)
        self._ids = np.insert(self._ids, at, ids)
        self._seqs = np.insert(self._seqs, at, seqs)
        self._folded += len(rows)
        self._recent, self._by_key = [], {}

    def _drop_below(self, seq: int) -> None:
        if self._folded and int(self._seqs.min()) < seq:
            keep = self._seqs >= seq
            self._folded -= int(np.unique(self._seqs[~keep]).size)
            self._keys, self._ids, self._seqs = self._keys[keep], self._ids[keep], self._seqs[keep]
        if self._recent and self._recent[0][0] < seq:
            self._recent = [row for row in self._recent if row[0] >= seq]
            self._by_key = {}
            for _, aid, blob in self._recent:
                _index(self._by_key, aid, unpack(blob))


def _index(by_key: dict[int, int | list[int]], aid: int, keys: Sequence[int]) -> None:
    if by_key.keys().isdisjoint(keys):
        by_key.update(dict.fromkeys(keys, aid))
        return
    for key in keys:
        ids = by_key.get(key)
        if ids is None:
            by_key[key] = aid
        elif isinstance(ids, int):
            by_key[key] = [ids, aid]
        else:
            ids.append(aid)


_TAILS: weakref.WeakKeyDictionary[Engine, Tail] = weakref.WeakKeyDictionary()
_TAILS_LOCK = threading.Lock()


def tail_for(engine: Engine) -> Tail:
    with _TAILS_LOCK:
        tail = _TAILS.get(engine)
        if tail is None:
            tail = _TAILS[engine] = Tail()
        return tail


def lookup(sql: PlainSql, keys: Sequence[int]) -> tuple[dict[int, list[int]], int]:
    """The logged articles of each of ``keys`` that has any (oldest first) and the number
    of articles in the log, after catching up with it."""
    tail = tail_for(sql.engine)
    with tail.lock:
        tail.sync(sql)
        return tail.hits(keys), len(tail)


def append(sql: PlainSql, rows: Sequence[tuple[int, Sequence[int]]]) -> None:
    """Log the band keys of newly placed articles: (article id, keys) in placement order."""
    sql.cursor.executemany(
        f"INSERT INTO dedup_band_log (article_id, keys) VALUES ({sql.marks(2)})",
        [(aid, pack(keys)) for aid, keys in rows if keys],
    )


def merge(sql: PlainSql) -> int:
    """Move every logged band key into ``dedup_band``, in key order; the articles moved.

    Idempotent: a key already there is skipped, so a merge cut short and done again, or
    logged rows of an article indexed before, change nothing.
    """
    rows = sql.rows("SELECT seq, article_id, keys FROM dedup_band_log ORDER BY seq", ())
    if not rows:
        return 0
    last_seq, merged = int(rows[-1][0]), len(rows)
    blobs = [bytes(blob) for _, _, blob in rows]
    keys = np.frombuffer(b"".join(blobs), dtype="<i8")
    ids = np.repeat(
        np.array([int(aid) for _, aid, _ in rows], dtype=np.int64),
        [len(blob) // 8 for blob in blobs],
    )
    del rows, blobs  # a full log is ~480k keys: what is not needed goes before the writes
    # sorted and distinct in numpy: a set and a sort of 240k tuples cost ~15 us an article
    order = np.lexsort((ids, keys))
    keys, ids = keys[order], ids[order]
    new = np.ones(keys.size, dtype=bool)
    new[1:] = (keys[1:] != keys[:-1]) | (ids[1:] != ids[:-1])
    keys, ids = keys[new], ids[new]
    sql.cursor.executemany(INSERT_BAND.replace("%s", sql.mark), _pairs(keys, ids))
    sql.run("DELETE FROM dedup_band_log WHERE seq <= %s", (last_seq,))
    return merged


def _pairs(keys: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]) -> Iterator[tuple[int, int]]:
    """(key, article) as Python ints, a slice at a time: whole lists of a full log's keys
    were ~40 MB at the peak of a merge."""
    step = 20_000
    for i in range(0, keys.size, step):
        yield from zip(keys[i : i + step].tolist(), ids[i : i + step].tolist(), strict=True)
