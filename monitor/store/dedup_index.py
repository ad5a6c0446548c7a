"""The persisted near-duplicate index: MinHash signatures on ``article``, band keys in
``dedup_band`` (and, on SQLite, the recent ones in ``dedup_band_log``: see
``monitor.store.band_log``).

Every worker reads and writes the same rows, so a restart rebuilds nothing and several
workers on one PostgreSQL share one index (issue 4, point 2).

These statements run for every batch of ingested articles, so they go to the DB-API
cursor of the session's connection (same transaction) as plain SQL that SQLite and
PostgreSQL both accept. Built through SQLAlchemy Core they cost ~0.4 ms of CPU each on the reference
machine, more than the index lookups themselves; as plain SQL, ~0.05 ms. Only integers,
strings and bytes pass here, so no column type processing is skipped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlmodel import Session

from monitor.dedup import minhash
from monitor.store import band_log

# A bucket shared by very many articles (a boilerplate paragraph posted as the whole text)
# must not turn one lookup into thousands of signature reads. Real near-duplicates of one
# article number in the tens; the newest candidates are kept.
MAX_CANDIDATES = 200


# Shingles of recently checked stored texts. An article that many others nearly copy (a
# wire story and its rewrites) is checked again and again; its text never changes, and the
# text itself is the key, so no database or id can ever see another's shingles.
_SHINGLES: OrderedDict[str, npt.NDArray[np.uint32]] = OrderedDict()
_SHINGLES_MAX = 2048  # ~8 KB each (text and shingles): ~16 MB at most


_SHINGLES_LOCK = threading.Lock()  # pollers of several sources may place at once


def _shingles(text: str) -> npt.NDArray[np.uint32]:
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


class PlainSql:
    """A DB-API cursor in the session's transaction, with the driver's placeholder."""

    def __init__(self, session: Session | sa.Connection) -> None:
        if isinstance(session, Session):
            session.flush()  # rows the ORM still holds must be visible to plain SQL
            conn = session.connection()
        else:
            conn = session
        self.dialect = conn.dialect
        self.engine = conn.engine
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self.cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        self.cursor.execute(sql.replace("%s", self.mark), tuple(params))
        return list(self.cursor.fetchall())

    def run(self, sql: str, params: Sequence[Any]) -> None:
        self.cursor.execute(sql.replace("%s", self.mark), tuple(params))


_CHUNK = 500  # values per IN list: far below every driver's parameter limit

# The newest MAX_CANDIDATES articles of each band key. The newest of the union over an
# article's keys are among the union of each key's newest, so capping per key loses none.
_LOOKUP = (
    "SELECT key, article_id FROM (SELECT key, article_id, ROW_NUMBER() OVER"
    " (PARTITION BY key ORDER BY article_id DESC) AS n FROM dedup_band WHERE key IN ({}))"
    f" AS hit WHERE n <= {MAX_CANDIDATES}"
)


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


class BatchIndex:
    """The near-duplicate index as one batch of new articles sees it.

    Looking the band keys up and writing them one article at a time cost two statements
    per article, each touching twelve places of a B-tree that at a million articles no
    longer fits the page cache (~0.15 ms each on the reference machine). Here the whole
    batch is looked up in one statement and written in one (on SQLite, appended to the log
    of ``monitor.store.band_log``). An article of the batch is found by the later ones
    from memory, so the result is the same as placing them one after another.
    """

    def __init__(self, sql: PlainSql, batch: Sequence[tuple[int, Sequence[int]]]) -> None:
        self.sql = sql
        self._stored: dict[int, list[int]] = {}
        keys = sorted({k for _, ks in batch for k in ks})
        for part in _chunks(keys):
            for key, aid in sql.rows(_LOOKUP.format(sql.marks(len(part))), part):
                self._stored.setdefault(int(key), []).append(int(aid))
        # on SQLite the recent keys are in the log, held in memory (module band_log)
        self._log = sql.dialect.name == "sqlite"
        self._logged = 0  # articles in the log
        if self._log and keys:
            logged, self._logged = band_log.lookup(sql, keys)
            for k, hits in logged.items():
                self._stored.setdefault(k, []).extend(hits[-MAX_CANDIDATES:])
        self._added: list[tuple[int, Sequence[int]]] = []
        self._mine: dict[int, list[int]] = {}
        self._signatures: dict[int, bytes] = {}
        self._texts: dict[int, str] = {}
        wanted = sorted({a for ids in self._stored.values() for a in ids})
        for part in _chunks(wanted):
            for cid, sig in sql.rows(
                "SELECT id, minhash FROM article WHERE minhash IS NOT NULL"
                f" AND id IN ({sql.marks(len(part))})",
                part,
            ):
                self._signatures[int(cid)] = bytes(sig)

    def _candidates(self, article_id: int, keys: Sequence[int]) -> list[int]:
        ids: set[int] = set()
        for k in keys:
            ids.update(self._stored.get(k, ()))
            ids.update(self._mine.get(k, ()))
        ids.discard(article_id)
        newest = sorted(ids, reverse=True)[:MAX_CANDIDATES]
        return [cid for cid in newest if cid in self._signatures]

    def find(
        self,
        article_id: int,
        sig: bytes,
        keys: Sequence[int],
        text: str,
        shingles: npt.NDArray[np.uint32] | None = None,
    ) -> NearDuplicate | None:
        """The most similar indexed article at Jaccard >= ``NEAR_DUPLICATE``, verified.

        Each candidate is verified against its stored signature, and an estimate too close
        to the threshold to trust is settled by the exact shingle Jaccard of the two texts
        (see ``monitor.dedup.minhash``).
        """
        found = self._candidates(article_id, keys)
        if not found:
            return None
        estimates = {cid: minhash.similarity(sig, self._signatures[cid]) for cid in found}
        unsure = [
            cid
            for cid, est in estimates.items()
            if minhash.REJECT_BELOW <= est < minhash.ACCEPT_ABOVE
        ]
        # stored texts are read only for the estimates that need the exact check
        texts = {cid: self._texts[cid] for cid in unsure if cid in self._texts}
        stored = [cid for cid in unsure if cid not in texts]
        if stored:
            texts.update(
                (int(cid), other or "")
                for cid, other in self.sql.rows(
                    f"SELECT id, text FROM article WHERE id IN ({self.sql.marks(len(stored))})",
                    stored,
                )
            )
        mine: list[npt.NDArray[np.uint32]] = [] if shingles is None else [shingles]

        def exact(cid: int) -> float:
            if not mine:
                mine.append(minhash.shingles(text))
            return minhash.jaccard_of(mine[0], _shingles(texts.get(cid, "")))

        sure: list[NearDuplicate] = []
        for cid, est in estimates.items():
            sim = minhash.verify(est, partial(exact, cid))
            if sim is not None:
                sure.append(NearDuplicate(cid, sim, est, exact_checked=cid in texts))
        if not sure:
            return None
        # most similar first; the earlier article wins a tie
        return min(sure, key=lambda n: (-n.similarity, n.article_id))

    def add(self, article_id: int, sig: bytes, keys: Sequence[int], text: str) -> None:
        """Index an article of the batch: later ones find it at once; written by ``flush``.

        Its signature goes to the ``article`` row with the other dedup columns.
        """
        self._signatures[article_id] = sig
        self._texts[article_id] = text
        for k in keys:
            self._mine.setdefault(k, []).append(article_id)
        self._added.append((article_id, keys))

    def flush(self) -> None:
        """Write the batch's band keys: to the log on SQLite (merged into ``dedup_band``
        once it holds ``band_log.MERGE_AT`` articles), else straight to ``dedup_band``.

        A replay finds nothing new: ``dedup_band`` skips rows it has, and a log row logged
        twice merges into the same rows."""
        added, self._added = self._added, []
        if not added:
            return
        if self._log:
            band_log.append(self.sql, added)
            if self._logged + len(added) >= band_log.MERGE_AT:
                band_log.merge(self.sql)
            return
        rows = sorted({(k, aid) for aid, keys in added for k in keys})
        self.sql.cursor.executemany(band_log.INSERT_BAND.replace("%s", self.sql.mark), rows)


def band_rows(session: Session | sa.Connection) -> list[tuple[int, int]]:
    """Every indexed (band key, article id), from ``dedup_band`` and the log, sorted."""
    sql = PlainSql(session)
    rows = {(int(k), int(a)) for k, a in sql.rows("SELECT key, article_id FROM dedup_band", ())}
    for aid, blob in sql.rows("SELECT article_id, keys FROM dedup_band_log", ()):
        rows.update((k, int(aid)) for k in band_log.unpack(bytes(blob)))
    return sorted(rows)
