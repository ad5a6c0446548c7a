"""The persisted near-duplicate index: MinHash signatures on ``article``, band keys in
``dedup_band``.

Every worker reads and writes the same rows, so a restart rebuilds nothing and several
workers on one PostgreSQL share one index (issue 4, point 2).

These statements run for every ingested article, so they go to the DB-API cursor of the
session's connection (same transaction) as plain SQL that SQLite and PostgreSQL both
accept. Built through SQLAlchemy Core they cost ~0.4 ms of CPU each on the reference
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
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self.cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        self.cursor.execute(sql.replace("%s", self.mark), tuple(params))
        return list(self.cursor.fetchall())

    def run(self, sql: str, params: Sequence[Any]) -> None:
        self.cursor.execute(sql.replace("%s", self.mark), tuple(params))


def exact_duplicate(session: Session | PlainSql, article_id: int, content_hash: str) -> int | None:
    """The earliest other placed article with the same normalised-text hash."""
    sql = session if isinstance(session, PlainSql) else PlainSql(session)
    found = sql.rows(
        "SELECT id FROM article WHERE content_hash = %s AND id <> %s AND story_id IS NOT NULL"
        " ORDER BY id LIMIT 1",
        (content_hash, article_id),
    )
    return int(found[0][0]) if found else None


def _candidate_signatures(sql: PlainSql, keys: Sequence[int], exclude: int) -> dict[int, bytes]:
    """Signatures of the articles sharing a band key, newest first, ``MAX_CANDIDATES`` at most."""
    if not keys:
        return {}
    # two statements: most articles have no candidate at all, and the bare index lookup
    # is several times cheaper than the join
    ids = [
        int(r[0])
        for r in sql.rows(
            f"SELECT DISTINCT article_id FROM dedup_band WHERE key IN ({sql.marks(len(keys))})"
            f" AND article_id <> %s ORDER BY article_id DESC LIMIT {MAX_CANDIDATES}",
            (*keys, exclude),
        )
    ]
    if not ids:
        return {}
    found = sql.rows(
        "SELECT id, minhash FROM article WHERE minhash IS NOT NULL"
        f" AND id IN ({sql.marks(len(ids))})",
        ids,
    )
    return {int(cid): bytes(sig) for cid, sig in found}


def find_near_duplicate(
    session: Session | PlainSql,
    article_id: int,
    sig: bytes,
    text: str,
    *,
    keys: Sequence[int] | None = None,
    shingles: npt.NDArray[np.uint32] | None = None,
) -> NearDuplicate | None:
    """The most similar indexed article at Jaccard >= ``NEAR_DUPLICATE``, verified.

    Candidates come from the band index; each is verified against its stored signature,
    and an estimate too close to the threshold to trust is settled by the exact shingle
    Jaccard of the two stored texts (see ``monitor.dedup.minhash``). ``keys`` are the
    signature's band keys and ``shingles`` the text's shingles when the caller has them.
    """
    sql = session if isinstance(session, PlainSql) else PlainSql(session)
    signatures = _candidate_signatures(
        sql, minhash.band_keys(sig) if keys is None else keys, article_id
    )
    if not signatures:
        return None
    estimates = {cid: minhash.similarity(sig, stored) for cid, stored in signatures.items()}
    unsure = [
        cid for cid, est in estimates.items() if minhash.REJECT_BELOW <= est < minhash.ACCEPT_ABOVE
    ]
    # the stored texts are read only for the estimates that need the exact check
    texts: dict[int, str] = {}
    if unsure:
        texts = {
            int(cid): other or ""
            for cid, other in sql.rows(
                f"SELECT id, text FROM article WHERE id IN ({sql.marks(len(unsure))})", unsure
            )
        }
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


def add_to_index(
    session: Session | PlainSql,
    article_id: int,
    sig: bytes,
    *,
    write_signature: bool = True,
    keys: Sequence[int] | None = None,
) -> None:
    """Store the signature and its band keys (idempotent: a replay inserts nothing).

    ``write_signature=False`` leaves the ``minhash`` column to a caller that rewrites the
    article row anyway: each UPDATE rewrites the whole row, text included.
    """
    sql = session if isinstance(session, PlainSql) else PlainSql(session)
    if write_signature:
        sql.run("UPDATE article SET minhash = %s WHERE id = %s", (sig, article_id))
    if keys is None:
        keys = minhash.band_keys(sig)
    if keys:
        pair = f"({sql.mark}, {sql.mark})"
        sql.run(
            "INSERT INTO dedup_band (key, article_id) VALUES "
            + ", ".join([pair] * len(keys))
            + " ON CONFLICT DO NOTHING",
            [v for k in keys for v in (k, article_id)],
        )
