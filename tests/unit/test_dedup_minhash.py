"""Exact and near-duplicate levels, pure functions (issue 4, points 1 and 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from monitor.dedup import (
    NEAR_DUPLICATE,
    band_keys,
    candidate_probability,
    content_hash,
    jaccard,
    minhash,
    near,
    normalise,
    signature,
    similarity,
)

TEXT = (
    "Alibaba has emerged as a formidable contender in the worldwide scramble for artificial "
    "intelligence capacity, pledging $53 billion (RMB 380 billion) across the next three years "
    "to expand its AI and cloud infrastructure. The size of the commitment makes one thing "
    "plain: management no longer treats AI as a side bet but as the load-bearing wall of the "
    "entire group. Alibaba Cloud holds 4% of the global cloud market, trailing AWS (30%), "
    "Microsoft Azure (20%) and Google Cloud (13%), while its home share stands at 36%."
)


def test_normalise_folds_case_whitespace_and_punctuation() -> None:
    assert normalise("Alibaba’s  AI—push!\n\n«Qwen3-Max»  costs $53 billion.") == (
        "alibaba s ai push qwen3 max costs 53 billion"
    )
    # full-width forms and non-breaking spaces are the same characters after NFKC
    assert normalise("ＡＩ\u00a0Cloud") == "ai cloud"
    # letters outside ASCII keep their identity, in lower case
    assert normalise("Émission Über") == "émission über"


def test_content_hash_ignores_formatting_but_not_words() -> None:
    reformatted = TEXT.upper().replace(" ", "  ").replace(",", " ,").replace(".", " …")
    assert content_hash(reformatted) == content_hash(TEXT)
    assert content_hash(TEXT.replace("$53 billion", "$52 billion")) != content_hash(TEXT)
    assert len(content_hash(TEXT)) == 32


def test_signature_is_compact_and_deterministic() -> None:
    sig = signature(TEXT)
    assert sig == signature(TEXT)
    assert len(sig) == 1 + 2 * minhash.NUM_PERM  # well under the 2 KB budget per article
    assert similarity(sig, sig) == pytest.approx(1.0)


def test_signature_does_not_depend_on_the_process_hash_seed() -> None:
    """Signatures are stored and compared across restarts and workers."""
    code = (
        "import sys; from monitor.dedup import signature;"
        " sys.stdout.write(signature(sys.argv[1]).hex())"
    )
    root = Path(__file__).resolve().parents[2]
    outs = {
        subprocess.run(
            [sys.executable, "-c", code, TEXT],
            check=True,
            capture_output=True,
            text=True,
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert outs == {signature(TEXT).hex()}


def test_empty_text_has_no_band_keys_and_matches_nothing() -> None:
    empty = signature("  ... — !! ")
    assert band_keys(empty) == []
    assert similarity(empty, empty) == 0.0
    assert similarity(empty, signature(TEXT)) == 0.0


def test_short_text_still_gets_a_signature() -> None:
    assert similarity(signature("Qwen3 launched"), signature("qwen3 LAUNCHED!")) == 1.0


def test_band_keys_are_signed_int64_and_mix_in_the_band_number() -> None:
    keys = band_keys(signature(TEXT))
    assert len(keys) == minhash.BANDS
    assert all(-(2**63) <= k < 2**63 for k in keys)
    # the same values in every band still give one key per band
    same = bytes([minhash.VERSION]) + b"\x07\x00" * minhash.NUM_PERM
    assert len(set(band_keys(same))) == minhash.BANDS


def test_malformed_signature_is_rejected() -> None:
    with pytest.raises(ValueError):
        similarity(b"\x01abc", signature(TEXT))


def _edited(text: str, every: int) -> str:
    words = text.split()
    return " ".join(w if i % every else "edited" for i, w in enumerate(words))


@pytest.mark.parametrize("every", [40, 12, 6, 3])
def test_similarity_estimates_the_exact_jaccard(every: int) -> None:
    long = " ".join([TEXT, TEXT.replace("Alibaba", "The group"), TEXT[::-1]])
    other = _edited(long, every)
    exact = jaccard(long, other)
    est = similarity(signature(long), signature(other))
    # 64 permutations: the standard error is at most 0.0625; four of them is a loose bound
    assert abs(est - exact) <= 0.25


def test_s_curve_meets_the_recall_target_and_prunes_dissimilar_pairs() -> None:
    """The banding chosen from the target (module docstring), against datasketch's default."""
    assert candidate_probability(NEAR_DUPLICATE) >= 0.99
    assert candidate_probability(0.9) >= 0.9999
    assert candidate_probability(0.3) < 0.05
    assert candidate_probability(0.1) < 0.001
    assert candidate_probability(0.8, bands=9, rows=13) < 0.5  # why the default is not used


def test_verify_accepts_rejects_and_checks_only_the_grey_zone() -> None:
    calls: list[int] = []

    def exact(value: float) -> float:
        calls.append(1)
        return value

    assert minhash.verify(0.97, lambda: exact(0.0)) == 0.97
    assert minhash.verify(0.4, lambda: exact(1.0)) is None
    assert calls == []
    assert minhash.verify(0.8, lambda: exact(0.83)) == 0.83
    assert minhash.verify(0.8, lambda: exact(0.79)) is None
    assert len(calls) == 2


def test_word_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minhash, "_WORD_CACHE", {})
    monkeypatch.setattr(minhash, "_WORD_CACHE_MAX", 50)
    before = signature(TEXT)
    for i in range(10):
        signature(" ".join(f"w{i}x{j}" for j in range(30)))
    assert len(minhash._WORD_CACHE) <= 50 + 30
    assert signature(TEXT) == before


def test_reused_sketch_matches_a_fresh_datasketch_minhash() -> None:
    import threading

    def fresh(text: str) -> bytes:
        return minhash.pack(minhash.reference_minhash(text).hashvalues)

    texts = [TEXT, TEXT.upper()[:200], "one two three four", TEXT[::-1]]
    # one after another on a thread's sketch: nothing of the previous text is left over
    for t in texts + texts[::-1]:
        assert signature(t) == fresh(t)
        assert minhash.signature_of(minhash.shingles(t)) == signature(t)
    # a sketch per thread: concurrent signatures do not mix
    got: dict[int, list[bytes]] = {}

    def run(k: int) -> None:
        got[k] = [signature(t) for t in texts * 20]

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(v == [fresh(t) for t in texts] * 20 for v in got.values())


def test_similarities_of_many_candidates_equal_one_by_one() -> None:
    base = "shares of the chip maker rose after the company raised its forecast " * 8
    texts = [base, base + " and analysts cheered", "an unrelated note on rates " * 9, ""]
    sigs = [minhash.signature(t) for t in texts]
    for sig in sigs:
        assert minhash.similarities(sig, sigs) == [minhash.similarity(sig, o) for o in sigs]
    with pytest.raises(ValueError):
        minhash.similarities(sigs[0], [b"\x01abc"])


def test_exact_jaccards_of_many_candidates_equal_one_by_one() -> None:
    """The batched exact Jaccard is the same float as one call per pair, whatever the
    sizes (empty texts, one-shingle texts, texts longer or shorter than the article)."""
    words = TEXT.split()
    texts = [
        TEXT,
        TEXT.replace("formidable", "serious"),
        " ".join(words[:20]),
        " ".join(words[5:]) + " " + TEXT,
        "an unrelated note on rates " * 30,
        "",
        "two words",
        TEXT[: len(TEXT) // 3],
    ]
    sh = [minhash.shingles(t) for t in texts]
    for mine in sh:
        one_by_one = [minhash.jaccard_of(mine, o) for o in sh]
        assert minhash.jaccards_of(mine, sh) == one_by_one
        assert minhash.jaccards_of(mine, sh[::-1]) == one_by_one[::-1]
    assert 0.0 < minhash.jaccards_of(sh[0], sh)[1] < 1.0 == minhash.jaccards_of(sh[0], sh)[0]
    assert minhash.jaccards_of(sh[0], []) == []


def test_find_near_verifies_only_candidates_the_estimate_does_not_reject(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Of many band candidates (the chrome of one outlet is shared by all its articles)
    the ones the estimate rejects are dropped at once: neither verified nor read."""
    copy = TEXT.replace("formidable", "serious")
    others = [
        f"Note {i}: the board met on rates and the weather in town {i}. " * 6 for i in range(40)
    ]
    candidates = {i + 1: minhash.signature(t) for i, t in enumerate([*others, copy])}
    verified: list[float] = []
    real_verify = minhash.verify

    def counting(estimate: float, exact: Callable[[], float]) -> float | None:
        verified.append(estimate)
        return real_verify(estimate, exact)

    monkeypatch.setattr(minhash, "verify", counting)
    read: list[int] = []

    def texts(ids: Sequence[int]) -> dict[int, str]:
        read.extend(ids)
        return {cid: copy for cid in ids}

    found = near.find_near(minhash.signature(TEXT), TEXT, candidates, texts)
    assert found is not None and found.article_id == len(others) + 1
    assert found.similarity >= NEAR_DUPLICATE
    assert verified and all(e >= minhash.REJECT_BELOW for e in verified)
    assert len(verified) < 5 and set(read) <= {len(others) + 1}


def test_a_checked_text_is_not_read_again_under_its_content_hash() -> None:
    """The shingles of a checked candidate are kept by content hash: the next article that
    checks it reads no text; a text that could not be read is not kept as empty."""
    copy = TEXT.replace("formidable", "serious").replace("plain", "clear")
    sig, copy_sig = minhash.signature(TEXT), minhash.signature(copy)
    assert minhash.REJECT_BELOW <= minhash.similarity(sig, copy_sig) < minhash.ACCEPT_ABOVE
    read: list[int] = []

    def texts(ids: Sequence[int]) -> dict[int, str]:
        read.extend(ids)
        return {cid: copy for cid in ids if cid != 9}

    keys = {7: content_hash(copy), 8: content_hash(copy), 9: "not-readable-" + TEXT[:20]}
    first = near.find_near(sig, TEXT, {7: copy_sig}, texts, keys=keys)
    assert read == [7] and first is not None and first.exact_checked
    # another article id with the same content: its shingles are known
    second = near.find_near(sig, TEXT, {8: copy_sig}, texts, keys=keys)
    assert read == [7] and second is not None
    assert second.similarity == first.similarity == jaccard(TEXT, copy)
    # a text that cannot be read counts as empty, and is asked for again next time
    assert near.find_near(sig, TEXT, {9: copy_sig}, texts, keys=keys) is None
    assert near.find_near(sig, TEXT, {9: copy_sig}, texts, keys=keys) is None
    assert read == [7, 9, 9]
    # without keys every unsure candidate is read
    near.find_near(sig, TEXT, {7: copy_sig}, texts)
    assert read == [7, 9, 9, 7]
