"""A large stored history made from a small real one (the pipeline benchmark's ``--scale``).

A real run of the pipeline leaves ``N`` articles with their facts, mentions, stories,
story keys and band keys. :func:`clone` copies them ``times`` times into the same SQLite
file, each copy moved back in time by a whole number of the history's span, so a store of
10k real articles becomes one of 100k or 1M whose newest part is the real one and whose
older parts look like it: the same companies, metrics, figures and words, as years of one
news stream would. Copies get negative ids (older rows, lower ids, as inserted in order),
other URLs and content hashes, random signatures and band keys (a copy is not a copy of
the original's text: it holds no text at all, as retention leaves old articles) and the
word frequencies grow with them. Alerts, terms, rule state and deliveries are not copied:
the pipeline reads them by key, not by scanning history.
"""

from __future__ import annotations

import sqlite3

from monitor.dedup import minhash

# Which integer columns of each copied table name rows of a copied table (moved with them).
_IDS: dict[str, tuple[str, ...]] = {
    "article": ("id", "duplicate_of", "story_id"),
    "story": ("id", "canonical_article_id"),
    "fact": ("id", "article_id", "story_id"),
    "mention": ("id", "article_id"),
    "story_key": ("id", "story_id", "article_id"),
}
# Text columns with unique values (or values that would join a copy to its original).
_UNIQUE = {"article": ("url", "entry_key", "content_hash")}
_EMPTIED = {"article": {"text": "''"}}


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    return [(row[1], str(row[2]).upper()) for row in conn.execute(f"PRAGMA table_info({table})")]


def _span_days(conn: sqlite3.Connection) -> int:
    first, last = conn.execute("SELECT MIN(sort_at), MAX(sort_at) FROM article").fetchone()
    (days,) = conn.execute("SELECT julianday(?) - julianday(?)", (last, first)).fetchone()
    return int(days) + 30  # a month apart: no copy's story window reaches the next copy


def clone(path: str, times: int) -> int:
    """Add ``times`` older copies of the history in ``path``; the number of articles then."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    # the copied tables' indexes are built again at the end: sorting once is far cheaper
    # than tens of millions of inserts at random places of each index
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND"
        f" tbl_name IN ({', '.join(repr(t) for t in _IDS)})"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    (top,) = conn.execute(
        "SELECT MAX(m) FROM ("
        + " UNION ALL ".join(f"SELECT MAX(id) AS m FROM {t}" for t in _IDS)
        + ")"
    ).fetchone()
    offset = int(top) + 1
    days = _span_days(conn)
    real: int = conn.execute("SELECT COUNT(*) FROM article").fetchone()[0]
    for k in range(1, times + 1):
        for table, ids in _IDS.items():
            cols = _columns(conn, table)
            exprs = []
            for name, kind in cols:
                if name in ids:
                    exprs.append(f"{name} - {k * offset}")
                elif name in _EMPTIED.get(table, {}):
                    exprs.append(_EMPTIED[table][name])
                elif name in _UNIQUE.get(table, ()):
                    exprs.append(f"'c{k}:' || {name}")
                elif name == "minhash":
                    sig = f"X'{minhash.VERSION:02x}' || randomblob({2 * minhash.NUM_PERM})"
                    exprs.append(f"CASE WHEN {name} IS NULL THEN NULL ELSE {sig} END")
                elif kind.startswith("DATETIME"):
                    exprs.append(
                        f"CASE WHEN {name} IS NULL THEN NULL ELSE"
                        f" datetime({name}, '-{k * days} days') || substr({name}, 20) END"
                    )
                else:
                    exprs.append(name)
            names = ", ".join(n for n, _ in cols)
            conn.execute(
                f"INSERT INTO {table} ({names}) SELECT {', '.join(exprs)} FROM {table} WHERE id > 0"
            )
    # band keys of the copies, already merged into the index (random: they are the keys
    # of texts nobody will send again), and the word frequencies of the larger corpus
    conn.execute(
        f"WITH RECURSIVE band(b) AS (SELECT 1 UNION ALL SELECT b + 1 FROM band"
        f" WHERE b < {minhash.BANDS}) INSERT OR IGNORE INTO dedup_band (key, article_id)"
        " SELECT random(), a.id FROM article a, band WHERE a.id < 0 AND a.minhash IS NOT NULL"
    )
    conn.execute(f"UPDATE story_df SET df = df * {times + 1}")
    for _, sql in indexes:
        conn.execute(sql)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return real * (times + 1)
