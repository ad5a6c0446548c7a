"""The persisted near-duplicate index: MinHash signatures on ``article``, band keys in
``dedup_band``.

Every worker reads and writes the same rows, so a restart rebuilds nothing and several
workers on one PostgreSQL share one index (issue 4, point 2). Statements are SQLAlchemy
Core, not ORM objects: this runs once per ingested article and the ORM's unit of work
would cost more than the lookups themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from monitor.dedup import minhash
from monitor.models import Article, DedupBand

ARTICLE: sa.Table = Article.__table__  # type: ignore[attr-defined]
BAND: sa.Table = DedupBand.__table__  # type: ignore[attr-defined]

# A bucket shared by very many articles (a boilerplate paragraph posted as the whole text)
# must not turn one lookup into thousands of signature reads. Real near-duplicates of one
# article number in the tens; the newest candidates are kept.
MAX_CANDIDATES = 200


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    article_id: int
    similarity: float
    estimated: float  # the MinHash estimate, kept to explain the verdict
    exact_checked: bool  # the estimate fell between REJECT_BELOW and ACCEPT_ABOVE


def insert_ignore(session: Session, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the session's dialect."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"no upsert for dialect {name!r}")


def exact_duplicate(session: Session, article_id: int, content_hash: str) -> int | None:
    """The earliest other placed article with the same normalised-text hash."""
    row = session.execute(
        sa.select(ARTICLE.c.id)
        .where(
            ARTICLE.c.content_hash == content_hash,
            ARTICLE.c.id != article_id,
            ARTICLE.c.story_id.is_not(None),
        )
        .order_by(ARTICLE.c.id)
        .limit(1)
    ).first()
    return None if row is None else int(row[0])


def candidates(session: Session, keys: Sequence[int], exclude: int) -> list[int]:
    """Articles sharing at least one band key, newest first, at most ``MAX_CANDIDATES``."""
    if not keys:
        return []
    rows = session.execute(
        sa.select(BAND.c.article_id)
        .where(BAND.c.key.in_(list(keys)), BAND.c.article_id != exclude)
        .distinct()
        .order_by(BAND.c.article_id.desc())
        .limit(MAX_CANDIDATES)
    ).all()
    return [int(r[0]) for r in rows]


def find_near_duplicate(
    session: Session, article_id: int, sig: bytes, text: str
) -> NearDuplicate | None:
    """The most similar indexed article at Jaccard >= ``NEAR_DUPLICATE``, verified.

    Candidates come from the band index; each is verified against its stored signature,
    and an estimate too close to the threshold to trust is settled by the exact shingle
    Jaccard of the two stored texts (see ``monitor.dedup.minhash``).
    """
    ids = candidates(session, minhash.band_keys(sig), article_id)
    if not ids:
        return None
    rows = session.execute(
        sa.select(ARTICLE.c.id, ARTICLE.c.minhash).where(ARTICLE.c.id.in_(ids))
    ).all()
    signatures = {int(cid): bytes(stored) for cid, stored in rows if stored is not None}
    estimates = {cid: minhash.similarity(sig, stored) for cid, stored in signatures.items()}
    unsure = [
        cid for cid, est in estimates.items() if minhash.REJECT_BELOW <= est < minhash.ACCEPT_ABOVE
    ]
    # the stored texts are read only for the estimates that need the exact check
    texts: dict[int, str] = {}
    if unsure:
        texts = {
            int(cid): other or ""
            for cid, other in session.execute(
                sa.select(ARTICLE.c.id, ARTICLE.c.text).where(ARTICLE.c.id.in_(unsure))
            )
        }
    mine: list[npt.NDArray[np.uint32]] = []

    def exact(cid: int) -> float:
        if not mine:
            mine.append(minhash.shingles(text))
        return minhash.jaccard_of(mine[0], minhash.shingles(texts.get(cid, "")))

    sure: list[NearDuplicate] = []
    for cid, est in estimates.items():
        sim = minhash.verify(est, partial(exact, cid))
        if sim is not None:
            sure.append(NearDuplicate(cid, sim, est, exact_checked=cid in texts))
    if not sure:
        return None
    # most similar first; the earlier article wins a tie
    return min(sure, key=lambda n: (-n.similarity, n.article_id))


def add_to_index(session: Session, article_id: int, sig: bytes) -> None:
    """Store the signature and its band keys (idempotent: a replay inserts nothing)."""
    session.execute(sa.update(ARTICLE).where(ARTICLE.c.id == article_id).values(minhash=sig))
    keys = minhash.band_keys(sig)
    if keys:
        session.execute(
            insert_ignore(session, BAND), [{"key": k, "article_id": article_id} for k in keys]
        )
