"""Dedup throughput with 10k, 100k and 1M articles already stored, and the index size.

    .venv/bin/python tests/bench/bench_dedup.py            # 10k, 100k, 1M
    .venv/bin/python tests/bench/bench_dedup.py --quick    # 10k, 100k

For each size a fresh SQLite file (the project's schema, via the migrations, and the
engine settings of ``monitor.settings``) is filled with N stored articles, copied, and
``MEASURED`` new articles are placed in batches of ``BATCH`` (one transaction each) on
each copy, two ways:

* copy levels: ``find_copies`` (exact-hash lookup, MinHash signature, band-key lookup,
  verification of candidates against stored signatures and, in the grey zone, the exact
  shingle Jaccard, band-key writes) plus writing the signatures to the article rows.
  This is issue 4's "signatures plus index lookups plus writes", and what the peer does.
  Articles are not marked placed here, so an exact copy of an earlier measured exact copy
  goes uncounted (one in 2,000).
* ``place_articles``: the pipeline's call, the story level included (story rows, the
  story lookup for the article's main entity, every dedup column written).

HTML parsing and extraction are not included (issue 4, point 6). One in five measured
articles is a copy of a stored one, so verification runs too.

On SQLite new band keys go to a log that is merged into ``dedup_band`` every
``band_log.MERGE_AT`` articles (``monitor.store.band_log``). The stored state is the one
placing N articles one by one leaves: the newest N % MERGE_AT in the log, the rest merged.
The measured articles rarely reach a merge, so one merge of a full log into the index as
it stands is timed on its own and its share (its CPU time / MERGE_AT) is added to every
measured article's cost. Reading the log when a process starts is timed and printed
apart: it happens once per process.

Stored articles: ``POOL`` real texts with their real signatures and band keys; the rest
are rows with random signatures and band keys (bulk-loaded with executemany in key
order, which is what makes a million rows quick to load) and a short text. Their index
rows are exactly as large as real ones; only the article texts are shorter than real
news, so the file is smaller than a real one of the same count.

The peer is datasketch's in-memory ``MinHashLSH`` (threshold 0.8, 64 permutations, so
its own choice of bands) holding the same N signatures, measured on the same new
articles: the same MinHash computation, then query and insert in memory.

"Index bytes per article" is the dedup data in the database: the ``dedup_band`` table
and its primary-key index (SQLite ``dbstat``) plus the stored signatures, divided by N.
The same-story index (``story_key`` rows, the word frequencies of ``story_df`` and the
profiles stored on ``story``) is reported below the table, per measured article (the
bulk-loaded rows have no story).

The signature line compares ours (xxh32 per word, shingle hashes combined in numpy, one
datasketch ``update_batch`` over the whole array) with datasketch fed the same shingle
hashes one list element each, as the peer does.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from datasketch import MinHash, MinHashLSH

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.app.placement import Copy, find_copies, place_articles  # noqa: E402
from monitor.dedup import content_hash, minhash  # noqa: E402
from monitor.store import band_log  # noqa: E402
from monitor.store.db import make_engine, session_scope, upgrade  # noqa: E402
from monitor.store.plain_sql import ARTICLE, PlainSql  # noqa: E402
from monitor.values import Extraction  # noqa: E402
from tests.unit import dedup_eval  # noqa: E402

MEASURED = 2000
POOL = 3000
BATCH = 100
SEED = 4242
T0 = datetime(2025, 12, 1, tzinfo=UTC)


# ------------------------------------------------------------------------------ corpus


def sentences() -> list[str]:
    pool: list[str] = []
    for d in dedup_eval.seed_docs():
        pool.extend(s for s in re.split(r"(?<=[.!?])\s+", d.text.replace("\n\n", " ")) if s)
    return pool


def articles(n: int, rng: random.Random, pool: list[str], vocab: list[str]) -> list[str]:
    """News-sized texts (~500-900 words) from the demo corpus's sentences, one word in ten
    replaced, so that unrelated articles share only common phrases."""
    out = []
    for _ in range(n):
        body = " ".join(rng.choice(pool) for _ in range(rng.randint(25, 45)))
        words = [w if rng.random() > 0.1 else rng.choice(vocab) for w in body.split()]
        out.append(" ".join(words))
    return out


def copy_of(text: str, rng: random.Random) -> str:
    words = text.split()
    words = words[: int(len(words) * rng.uniform(0.85, 1.0))]
    return " ".join(w if rng.random() > 0.02 else "edited" for w in words)


# --------------------------------------------------------------------------- our store


def bulk_load(path: str, n: int, pool_texts: list[str], pool_sigs: list[bytes]) -> None:
    """N stored articles: the pool first (real), then rows generated inside SQLite (a
    recursive CTE and ``randomblob``/``random()``, in key order), which loads a million
    articles in well under a minute."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA cache_size = -262144")
    conn.execute(
        "INSERT INTO source (id, name, url, kind, interval_s, active, poll_count, item_count,"
        " error_count, error_total, lease_token)"
        " VALUES (1, 'bench', 'https://bench.test/', 'auto', 900, 1, 0, 0, 0, 0, 0)"
    )
    cols = (
        "id, source_id, entry_key, url, title, first_seen_at, sort_at, text, ai_generated,"
        " summary_only, content_hash, minhash, extracted"
    )
    stamp = "datetime('2025-12-01', '+' || {i} || ' seconds') || '.000000'"
    real = min(n, len(pool_texts))
    conn.executemany(
        f"INSERT INTO article ({cols}) VALUES (?, 1, printf('%09d', ?1), printf("
        f"'https://bench.test/%09d', ?1), '', {stamp.format(i='?1')}, {stamp.format(i='?1')},"
        " ?, 1, 0, ?, ?, 0)",
        [(i + 1, pool_texts[i], content_hash(pool_texts[i]), pool_sigs[i]) for i in range(real)],
    )
    if n > real:
        conn.execute(
            f"INSERT INTO article ({cols}) WITH RECURSIVE seq(i) AS (SELECT {real + 1}"
            f" UNION ALL SELECT i + 1 FROM seq WHERE i < {n})"
            " SELECT i, 1, printf('%09d', i), printf('https://bench.test/%09d', i), '',"
            f" {stamp.format(i='i')}, {stamp.format(i='i')}, 'stored article ' || i, 1, 0,"
            f" printf('%032x', i), X'{minhash.VERSION:02x}' || randomblob({2 * minhash.NUM_PERM}),"
            " 0 FROM seq"
        )
    # As after placing them one by one: the newest n % MERGE_AT articles in the log, the
    # others merged into dedup_band.
    merged = n - n % band_log.MERGE_AT
    conn.executemany(
        "INSERT INTO dedup_band (key, article_id) VALUES (?, ?)",
        sorted(
            (k, i + 1)
            for i, sig in enumerate(pool_sigs[: min(real, merged)])
            for k in minhash.band_keys(sig)
        ),
    )
    if merged > real:
        # random() is uniform over the signed 64-bit range, as band keys are
        conn.execute(
            f"WITH RECURSIVE band(b) AS (SELECT 1 UNION ALL SELECT b + 1 FROM band"
            f" WHERE b < {minhash.BANDS})"
            " INSERT OR IGNORE INTO dedup_band (key, article_id)"
            f" SELECT random(), a.id FROM article a, band WHERE a.id > {real}"
            f" AND a.id <= {merged} ORDER BY 1"
        )
    conn.executemany(
        "INSERT INTO dedup_band_log (article_id, keys) VALUES (?, ?)",
        [(i + 1, band_log.pack(minhash.band_keys(pool_sigs[i]))) for i in range(merged, real)],
    )
    log_random(conn, max(merged, real) + 1, n)
    conn.commit()
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()


def log_random(conn: sqlite3.Connection, first: int, last: int) -> None:
    """Log rows with random band keys for articles ``first``..``last``."""
    if last >= first:
        conn.execute(
            "INSERT INTO dedup_band_log (article_id, keys) WITH RECURSIVE seq(i) AS"
            f" (SELECT {first} UNION ALL SELECT i + 1 FROM seq WHERE i < {last})"
            f" SELECT i, randomblob({8 * minhash.BANDS}) FROM seq"
        )


def measure_merge(path: str) -> float:
    """CPU seconds per article of merging a full log (``MERGE_AT`` articles) into
    ``dedup_band`` as it stands, commit and checkpoint included. Placement pays this once
    every ``MERGE_AT`` articles; the table adds it to each article's cost."""
    conn = sqlite3.connect(path)
    (top,) = conn.execute("SELECT MAX(id) FROM article").fetchone()
    # a full log of the newest articles (with fewer stored, of all of them, some twice:
    # below MERGE_AT stored, the first merge comes when there are MERGE_AT)
    conn.execute("DELETE FROM dedup_band_log")
    rng = random.Random(SEED)
    conn.executemany(
        "INSERT INTO dedup_band_log (article_id, keys) VALUES (?, ?)",
        [(top - j % top, rng.randbytes(8 * minhash.BANDS)) for j in range(band_log.MERGE_AT)],
    )
    conn.commit()
    conn.close()
    engine = make_engine(f"sqlite:///{path}")
    cpu = time.process_time()
    with session_scope(engine) as s:
        moved = band_log.merge(PlainSql(s))
    cpu = time.process_time() - cpu
    engine.dispose()
    assert moved == band_log.MERGE_AT
    return cpu / moved


def index_bytes(path: str) -> int:
    conn = sqlite3.connect(path)
    pages = conn.execute(
        "SELECT SUM(pgsize) FROM dbstat"
        " WHERE name IN ('dedup_band', 'sqlite_autoindex_dedup_band_1', 'dedup_band_log')"
    ).fetchone()[0]
    sigs = conn.execute("SELECT SUM(LENGTH(minhash)) FROM article").fetchone()[0]
    conn.close()
    return int(pages or 0) + int(sigs or 0)


def story_bytes(path: str) -> int:
    conn = sqlite3.connect(path)
    pages = conn.execute(
        "SELECT SUM(pgsize) FROM dbstat WHERE name = 'story_key' OR name LIKE 'ix_story_key%'"
        " OR name = 'story_df' OR name LIKE 'sqlite_autoindex_story_df%'"
    ).fetchone()[0]
    sql = "SELECT SUM(COALESCE(LENGTH(profile), 0) + COALESCE(LENGTH(members), 0)) FROM story"
    profiles = conn.execute(sql).fetchone()[0]
    conn.close()
    return int(pages or 0) + int(profiles or 0)


def measure_ours(path: str, texts: list[str], whole: bool) -> tuple[float, float, int, float]:
    """CPU and wall time of the measured articles, how many were found to be copies, and
    the CPU time of reading the band-key log when the process starts (not per article).

    ``whole``: ``place_articles``, the pipeline's call (copy levels, story level, all the
    dedup columns). Otherwise the copy levels alone, which is what the peer does:
    ``find_copies`` (exact-hash lookup, signatures, band lookup, verification, band-key
    writes) plus writing the signatures to the article rows.
    """
    engine = make_engine(f"sqlite:///{path}")  # the defaults of monitor.settings
    ids: list[int] = []
    with session_scope(engine) as s:  # the pipeline's insert, not timed
        for k, text in enumerate(texts):
            ts = T0 + timedelta(days=30, seconds=k)
            r = s.execute(
                sa.insert(ARTICLE)
                .values(
                    source_id=1, entry_key=f"new-{k}", url=f"https://bench.test/new/{k}",
                    title="", first_seen_at=ts, sort_at=ts, text=text, ai_generated=True,
                    summary_only=False, content_hash=content_hash(text), extracted=False,
                )
                .returning(ARTICLE.c.id)
            )  # fmt: skip
            ids.append(int(r.scalar_one()))
    warm = time.process_time()
    with session_scope(engine) as s:  # what a process reads of the log when it starts
        band_log.lookup(PlainSql(s), ())
    warm = time.process_time() - warm
    found = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), BATCH):
        batch = range(start, min(start + BATCH, len(texts)))
        with session_scope(engine) as s:
            if whole:
                # one main entity per 1,000 articles: the story level compares each new
                # article with the few recent stories of its company, as in production
                placed = place_articles(
                    s,
                    [(ids[k], Extraction(main_entity=f"company{k % 1000}")) for k in batch],
                    now=T0 + timedelta(days=30),
                    window=timedelta(days=7),
                )
                found += sum(p.duplicate_of is not None for p in placed)
            else:
                copies = find_copies(s, [ids[k] for k in batch])
                found += sum(isinstance(c, Copy) for c in copies.values())
                s.connection().exec_driver_sql(
                    "UPDATE article SET minhash = ? WHERE id = ?",
                    [(c, aid) for aid, c in copies.items() if isinstance(c, bytes)],
                )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    return wall, cpu, found, warm


# ------------------------------------------------------------------------------- peer


def measure_peer(
    n: int, pool_sigs: list[MinHash], texts: list[str]
) -> tuple[float, float, int, float]:
    rng = np.random.default_rng(SEED)
    lsh = MinHashLSH(threshold=0.8, num_perm=minhash.NUM_PERM)
    fill = time.perf_counter()
    for i, m in enumerate(pool_sigs[:n]):
        lsh.insert(i, m, check_duplication=False)
    # The index keeps band hashes, not the MinHash objects, so one object carries every
    # random signature: the fill then costs what the index costs.
    carrier = pool_sigs[0].copy()
    random_values = rng.integers(0, 1 << 32, (max(0, n - len(pool_sigs)), minhash.NUM_PERM))
    for i, hv in enumerate(random_values.astype(np.uint32), start=len(pool_sigs)):
        carrier.hashvalues = hv
        lsh.insert(i, carrier, check_duplication=False)
    fill = time.perf_counter() - fill
    found = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for k, text in enumerate(texts):
        m = datasketch_minhash(text)
        hits = [c for c in lsh.query(m) if c != f"new-{k}"]
        found += any(
            pool_sigs[c].jaccard(m) >= minhash.NEAR_DUPLICATE
            for c in hits
            if isinstance(c, int) and c < len(pool_sigs)
        )
        lsh.insert(f"new-{k}", m, check_duplication=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, found, fill


def datasketch_minhash(text: str) -> MinHash:
    """The same MinHash as ours (same shingles, permutations and scheme), as an object."""
    return minhash.reference_minhash(text)


# ------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k stored only")
    parser.add_argument("--sizes", type=int, nargs="*", help="stored-article counts")
    parser.add_argument("--no-peer", action="store_true", help="skip datasketch's MinHashLSH")
    args = parser.parse_args()
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])

    rng = random.Random(SEED)
    pool = sentences()
    vocab = sorted({w for s in pool for w in s.split() if w.isalpha()})
    stored = articles(POOL, rng, pool, vocab)
    new = articles(MEASURED, rng, pool, vocab)
    for i in range(0, MEASURED, 5):  # one in five is a copy of a stored article
        new[i] = copy_of(stored[rng.randrange(POOL)], rng)
    t = time.process_time()
    pool_sigs = [minhash.signature(s) for s in stored]
    sig_us = (time.process_time() - t) / POOL * 1e6
    t = time.process_time()
    peer_sigs = [datasketch_minhash(s) for s in stored]
    peer_sig_us = (time.process_time() - t) / POOL * 1e6
    words = sum(len(s.split()) for s in new) / len(new)
    load_avg = os.getloadavg()[0]

    print(f"dedup benchmark: {MEASURED} new articles (~{words:.0f} words) per size, commit every"
          f" {BATCH}; the signature alone costs {sig_us:,.0f} us of CPU (datasketch fed"
          f" shingle by shingle: {peer_sig_us:,.0f} us)")  # fmt: skip
    print(f"ours: SQLite file, {minhash.BANDS} bands x {minhash.ROWS} rows of"
          f" {minhash.NUM_PERM} permutations; peer: datasketch MinHashLSH in memory"
          f" (threshold 0.8); load average {load_avg:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print("art/s/core = articles per CPU-second of this process (the wall clock is shared"
          " with whatever else runs); wall = articles per elapsed second")  # fmt: skip
    header = (
        f"{'stored':>9} | {'art/s/core':>10} {'cpu us':>7} {'wall/s':>7} {'dups':>5}"
        f" | {'art/s/core':>10} {'cpu us':>7} {'dups':>5} | {'idx B/art':>9} {'merge us':>8}"
        f" {'load s':>6}"
        f" | {'art/s/core':>10} {'cpu us':>7} {'dups':>5} {'fill s':>6}"
    )
    print(f"{'':>9} | {'ours: copy levels (find_copies)':<33} | {'ours: place_articles':<24}"
          f" | {'':<25} | {'peer: MinHashLSH':<32}")  # fmt: skip
    print(header)
    print("-" * len(header))
    cpus: list[tuple[float, float]] = []
    story_sizes: list[float] = []
    starts: list[float] = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bench.db")
            engine = make_engine(f"sqlite:///{path}")
            upgrade(engine)
            engine.dispose()
            t = time.perf_counter()
            bulk_load(path, n, stored, pool_sigs)
            load = time.perf_counter() - t
            whole_path = os.path.join(tmp, "whole.db")
            shutil.copyfile(path, whole_path)  # the same stored articles for both
            wall, cpu, found, warm = measure_ours(path, new, False)
            _, wcpu, wfound, _ = measure_ours(whole_path, new, True)
            starts.append(warm)
            merge = measure_merge(path)  # once every MERGE_AT articles: its share is added
            cpu += merge * MEASURED
            wcpu += merge * MEASURED
            size = index_bytes(whole_path) / (n + MEASURED)
            story_sizes.append(story_bytes(whole_path) / MEASURED)
        _, pcpu, pfound, fill = (
            (float("nan"),) * 4 if args.no_peer else measure_peer(n, peer_sigs, new)
        )
        cpus.append((cpu, wcpu))
        print(
            f"{n:>9,} | {MEASURED / cpu:>10,.0f} {cpu / MEASURED * 1e6:>7.0f}"
            f" {MEASURED / wall:>7,.0f} {found:>5} | {MEASURED / wcpu:>10,.0f}"
            f" {wcpu / MEASURED * 1e6:>7.0f} {wfound:>5} | {size:>9.0f} {merge * 1e6:>8.1f}"
            f" {load:>6.1f} |"
            f" {MEASURED / pcpu:>10,.0f} {pcpu / MEASURED * 1e6:>7.0f} {pfound:>5} {fill:>6.1f}"
        )
    growth = [last / first - 1 for first, last in zip(cpus[0], cpus[-1], strict=True)]
    print(f"CPU per article at {sizes[-1]:,} stored vs {sizes[0]:,}: copy levels"
          f" {growth[0]:+.0%}, place_articles {growth[1]:+.0%}")  # fmt: skip
    print(f"band-key log read when a process starts (once, not per article; at most"
          f" {band_log.MERGE_AT:,} articles): "
          + ", ".join(f"{t * 1e3:,.0f} ms" for t in starts))  # fmt: skip
    print("same-story index (story_key rows, word frequencies, stored profiles) per measured"
          " article: "
          + ", ".join(f"{b:,.0f} B" for b in story_sizes))  # fmt: skip
    print("targets (issue 4): >= 2,000 art/s per core at 1M for signatures, index lookups and"
          " writes (the copy levels, what the peer does); cost at 1M within 25% of 10k;"
          " <= 2,048 dedup bytes per stored article")  # fmt: skip


if __name__ == "__main__":
    main()
