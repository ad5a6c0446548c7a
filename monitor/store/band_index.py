"""The persisted near-duplicate index: MinHash signatures on ``article``, band keys in
``dedup_band`` (and, on SQLite, the recent ones in ``dedup_band_log``: see
``monitor.store.band_log``).

Every worker reads and writes the same rows, so a restart rebuilds nothing and several
workers on one PostgreSQL share one index (issue 4, point 2). What counts as a
near-duplicate is decided by ``monitor.dedup.near``; this module only finds the candidates
and keeps the keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session

from monitor.store import band_log
from monitor.store.plain_sql import PlainSql, chunks

# A bucket shared by very many articles (a boilerplate paragraph posted as the whole text)
# must not turn one lookup into thousands of signature reads. Real near-duplicates of one
# article number in the tens; the newest candidates are kept.
MAX_CANDIDATES = 200

# The newest MAX_CANDIDATES articles of each band key. The newest of the union over an
# article's keys are among the union of each key's newest, so capping per key loses none.
# Each key is read through the primary key (key, article_id) backwards and stops at the
# cap: a key of boilerplate shared by thousands of articles costs what the cap does. (As
# one statement numbering every row of every key, ROW_NUMBER() read such a key whole:
# 76 ms against 19 ms for the 1,788 keys of 200 articles at 50,000 stored.) SQLite has
# no LATERAL join: a subquery per key of a VALUES list gives each key's articles as one
# text, in one statement (0.6x the time of a statement per key at 50,000 stored, 0.15x
# while the index is empty and the keys are all in the log).
_NEWEST_SQLITE = (
    "SELECT v.column1, (SELECT group_concat(article_id) FROM (SELECT article_id"
    " FROM dedup_band WHERE key = v.column1 ORDER BY article_id DESC"
    f" LIMIT {MAX_CANDIDATES})) FROM (VALUES {{}}) AS v"
)
_NEWEST_LATERAL = (
    "SELECT k.key, b.article_id FROM (VALUES {}) AS k (key) CROSS JOIN LATERAL"
    " (SELECT article_id FROM dedup_band WHERE key = k.key ORDER BY article_id DESC"
    f" LIMIT {MAX_CANDIDATES}) AS b"
)


class BandIndex:
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
        # on SQLite the recent keys are in the log, held in memory (module band_log)
        self._log = sql.dialect.name == "sqlite"
        for part in chunks(keys):
            if self._log:
                found = sql.rows(_NEWEST_SQLITE.format(", ".join(["(%s)"] * len(part))), part)
                for key, ids in found:
                    if ids is not None:
                        self._stored[int(key)] = [int(a) for a in str(ids).split(",")]
            else:
                values = ", ".join(["(CAST(%s AS BIGINT))"] * len(part))
                for key, aid in sql.rows(_NEWEST_LATERAL.format(values), part):
                    self._stored.setdefault(int(key), []).append(int(aid))
        self._logged = 0  # articles in the log
        if self._log and keys:
            logged, self._logged = band_log.lookup(sql, keys)
            for k, hits in logged.items():
                self._stored.setdefault(k, []).extend(hits[-MAX_CANDIDATES:])
        # The newest stored candidates of each article of the batch, and only their
        # signatures read: an article whose keys are boilerplate meets thousands of
        # stored ones, of which ``candidates`` keeps the newest MAX_CANDIDATES (43% of
        # the keys' articles at 50,000 stored). The newest of (stored | the batch's own)
        # are among (newest stored | the batch's own), so the result is the same.
        self._newest: dict[int, list[int]] = {}
        for aid, ks in batch:
            ids = {a for k in ks for a in self._stored.get(k, ())}
            ids.discard(aid)
            # (sorted whole in C: 2.5x faster than heapq.nlargest on 3,000 ids)
            self._newest[aid] = sorted(ids, reverse=True)[:MAX_CANDIDATES]
        self._added: list[tuple[int, Sequence[int]]] = []
        self._mine: dict[int, list[int]] = {}
        self._signatures: dict[int, bytes] = {}
        self._texts: dict[int, str] = {}
        # the content hash names a text's shingles, which the dedup level keeps: a text
        # checked before is not read again (in SQLite the hash and the signature lie after
        # the text, so reading one with the other costs nothing more)
        self.hashes: dict[int, str] = {}
        wanted = sorted({a for ids in self._newest.values() for a in ids})
        for part in chunks(wanted):
            for cid, sig, content_hash in sql.rows(
                "SELECT id, minhash, content_hash FROM article WHERE minhash IS NOT NULL"
                f" AND id IN ({sql.marks(len(part))})",
                part,
            ):
                self._signatures[int(cid)] = bytes(sig)
                self.hashes[int(cid)] = content_hash

    def candidates(self, article_id: int, keys: Sequence[int]) -> dict[int, bytes]:
        """The newest indexed articles sharing a band key, with their signatures: those
        of an article of the batch this index was built for."""
        ids = set(self._newest[article_id])
        for k in keys:
            ids.update(self._mine.get(k, ()))
        ids.discard(article_id)
        newest = sorted(ids, reverse=True)[:MAX_CANDIDATES]
        return {cid: self._signatures[cid] for cid in newest if cid in self._signatures}

    def texts(self, ids: Sequence[int]) -> dict[int, str]:
        """The texts of candidates: the batch's from memory, stored ones read."""
        out = {cid: self._texts[cid] for cid in ids if cid in self._texts}
        stored = [cid for cid in ids if cid not in out]
        if stored:
            out.update(
                (int(cid), other or "")
                for cid, other in self.sql.rows(
                    f"SELECT id, text FROM article WHERE id IN ({self.sql.marks(len(stored))})",
                    stored,
                )
            )
        return out

    def add(
        self, article_id: int, sig: bytes, keys: Sequence[int], text: str, content_hash: str
    ) -> None:
        """Index an article of the batch: later ones find it at once; written by ``flush``.

        Its signature goes to the ``article`` row with the other dedup columns.
        """
        self._signatures[article_id] = sig
        self._texts[article_id] = text
        self.hashes[article_id] = content_hash
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
