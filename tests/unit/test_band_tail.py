"""The band log's in-memory tail answers as a plain map of key -> article ids would,
across folds into its sorted arrays and drops after merges."""

from __future__ import annotations

import random

from monitor.store.band_log import FOLD, Tail, pack


def test_the_tail_finds_what_a_plain_map_finds_through_folds_and_drops() -> None:
    rnd = random.Random(7)
    shared = [rnd.getrandbits(63) - (1 << 62) for _ in range(40)]  # keys several articles hold
    tail = Tail()
    rows: list[tuple[int, int, list[int]]] = []  # (seq, article, keys), the reference
    seq = 0
    for _ in range(3):
        for _ in range(FOLD + FOLD // 2):  # crosses a fold each round
            seq += 1
            keys = [rnd.getrandbits(64) - (1 << 63) for _ in range(11)] + [rnd.choice(shared)]
            rows.append((seq, 1000 + seq, keys))
            tail._add(seq, 1000 + seq, pack(keys))
        cut = rows[len(rows) // 3][0]  # a merge moved the oldest third to dedup_band
        tail._drop_below(cut)
        rows = [r for r in rows if r[0] >= cut]
        assert len(tail) == len(rows)
        asked = [*shared, *(k for _, _, ks in rnd.sample(rows, 50) for k in ks[:3])]
        asked += [rnd.getrandbits(63) for _ in range(50)]  # keys nobody holds
        want: dict[int, list[int]] = {}
        for _, aid, keys in rows:  # oldest first
            for key in keys:
                if key in asked:
                    want.setdefault(key, []).append(aid)
        assert tail.hits(asked) == want
    tail._drop_below(seq + 1)  # everything merged
    assert len(tail) == 0 and tail.hits(shared) == {}
