"""Document frequencies of the words the same-story level weighs (``story_df``).

One row per word: in how many placed original articles it occurs; the row with the empty
word counts the articles. Several workers on one PostgreSQL share the table: a batch reads
the rows of its words once, and adds what it placed in one upsert at its end, in word
order, so that two batches never wait on each other's rows in opposite orders. What the
words are is decided above the store (``monitor.dedup.text_vector``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from monitor.store.plain_sql import PlainSql, chunks

DOCS = ""  # the row that counts the articles
_UPSERT_ROWS = 200  # rows per statement


def read(sql: PlainSql, tokens: Iterable[str]) -> tuple[dict[str, int], int]:
    """The frequency of each of ``tokens`` that has one, and the number of articles."""
    wanted = sorted({*tokens, DOCS})
    out: dict[str, int] = {}
    for part in chunks(wanted):
        for token, df in sql.rows(
            f"SELECT token, df FROM story_df WHERE token IN ({sql.marks(len(part))})", part
        ):
            out[str(token)] = int(df)
    docs = out.pop(DOCS, 0)
    return out, docs


def add(sql: PlainSql, counts: Mapping[str, int], docs: int) -> None:
    """Add ``counts`` (word -> articles that use it) and ``docs`` articles."""
    if docs <= 0 and not counts:
        return
    rows = sorted({**counts, DOCS: docs}.items())
    for part in chunks(rows, _UPSERT_ROWS):
        sql.run(
            "INSERT INTO story_df (token, df) VALUES "
            + ", ".join(["(%s, %s)"] * len(part))
            + " ON CONFLICT (token) DO UPDATE SET df = story_df.df + excluded.df",
            [v for row in part for v in row],
        )
