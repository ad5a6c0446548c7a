"""Hot reload: atomic swap, last good rules kept on a bad edit, problems located."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from monitor.rules.engine import EvalInput, evaluate
from monitor.rules.reload import RuleBook
from tests.unit.test_rules_support import CHANNELS, T0, VOCAB, article, mention

_stamp = [1_700_000_000_000_000_000]


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # distinct mtimes even when edits land within the file system's timestamp granularity
    _stamp[0] += 1_000_000_000
    os.utime(path, ns=(_stamp[0], _stamp[0]))


def rules_text(*ids: str, family: str = "qwen_models") -> str:
    items = "".join(f"  - id: {i}\n    when: {{new_term: {family}}}\n" for i in ids)
    return f"rules:\n{items}"


def book_with(tmp_path: Path, **files: str) -> RuleBook:
    write(tmp_path / "vocabulary.yaml", VOCAB)
    for name, text in files.items():
        write(tmp_path / f"{name}.yaml", text)
    return RuleBook(tmp_path, channels=CHANNELS)


def ids(book: RuleBook) -> list[str]:
    return [r.id for r in book.current.rules]


def test_nothing_changed_means_no_reload(tmp_path: Path) -> None:
    book = book_with(tmp_path, a=rules_text("one"))
    before = book.current
    assert book.maybe_reload().changed is False
    os.utime(tmp_path / "a.yaml", ns=(1, 1))  # touched, same content
    assert book.maybe_reload().changed is False
    assert book.current is before


def test_edit_add_and_remove_files(tmp_path: Path) -> None:
    book = book_with(tmp_path, a=rules_text("one"))
    write(tmp_path / "a.yaml", rules_text("one", "two"))
    outcome = book.maybe_reload()
    assert outcome.changed and outcome.ok
    assert ids(book) == ["one", "two"]
    write(tmp_path / "b.yaml", rules_text("three"))
    assert book.maybe_reload().changed
    assert ids(book) == ["one", "two", "three"]
    (tmp_path / "a.yaml").unlink()
    assert book.maybe_reload().changed
    assert ids(book) == ["three"]


def test_bad_edit_keeps_the_last_good_version_and_says_where(tmp_path: Path) -> None:
    book = book_with(tmp_path, a=rules_text("one"), b=rules_text("two"))
    write(tmp_path / "a.yaml", "rules:\n  - id: one\n    when: {new_term: qwen_models\n")
    write(tmp_path / "b.yaml", rules_text("two", "three"))  # a good edit elsewhere applies
    outcome = book.maybe_reload()
    assert outcome.changed
    assert outcome.kept_last_good == (str(tmp_path / "a.yaml"),)
    (problem,) = outcome.problems
    assert problem.path == str(tmp_path / "a.yaml") and (problem.line, problem.col) == (4, 1)
    assert "YAML syntax" in problem.message
    assert ids(book) == ["one", "two", "three"]
    assert book.current.problems == outcome.problems
    write(tmp_path / "a.yaml", rules_text("one-fixed"))
    fixed = book.maybe_reload()
    assert fixed.changed and fixed.ok and fixed.kept_last_good == ()
    assert ids(book) == ["one-fixed", "two", "three"]


def test_an_edit_breaking_a_reference_falls_back_too(tmp_path: Path) -> None:
    book = book_with(tmp_path, a=rules_text("one"))
    write(tmp_path / "a.yaml", rules_text("one", family="qwen_modles"))
    outcome = book.maybe_reload()
    assert outcome.kept_last_good == (str(tmp_path / "a.yaml"),)
    assert [(p.line, p.col) for p in outcome.problems] == [(3, 22)]
    assert "did you mean 'qwen_models'" in outcome.problems[0].message
    assert ids(book) == ["one"]


def test_a_new_bad_file_is_dropped_and_reported(tmp_path: Path) -> None:
    book = book_with(tmp_path, a=rules_text("one"))
    write(tmp_path / "b.yaml", "rules:\n  - id: x\n    wen: {new_term: qwen_models}\n")
    outcome = book.maybe_reload()
    assert outcome.dropped == (str(tmp_path / "b.yaml"),)
    assert [str(p).split("/")[-1] for p in outcome.problems] == [
        "b.yaml:2:5: rules.0.when: required key is missing",
        "b.yaml:3:5: rules.0.wen: unknown key 'wen'; did you mean 'when'?",
    ]
    assert ids(book) == ["one"]


def test_reload_under_load_never_shows_a_half_loaded_set(tmp_path: Path) -> None:
    """Evaluations running while the files are swapped see one whole version each."""
    versions = [
        {"a": rules_text(f"v{n}-a1", f"v{n}-a2"), "b": rules_text(f"v{n}-b1")} for n in range(2)
    ]
    book = book_with(tmp_path, **versions[0])
    art = article(at=T0)
    batch = EvalInput(mentions=(mention(art, "term", "qwen_models", "Qwen3"),))
    stop = threading.Event()
    seen: set[str] = set()
    failures: list[str] = []

    def evaluate_loop() -> None:
        while not stop.is_set():
            ruleset = book.current  # what a pipeline batch takes once
            result = evaluate(ruleset, batch, {}, T0)
            prefixes = {a.rule_id.split("-")[0] for a in result.alerts}
            rule_count = len(ruleset.rules)
            if len(prefixes) != 1 or len(result.alerts) != 3 or rule_count != 3:
                failures.append(f"{prefixes} {len(result.alerts)} {rule_count}")
            seen.update(prefixes)

    workers = [threading.Thread(target=evaluate_loop) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        for i in range(24):
            version = versions[(i + 1) % 2]
            write(tmp_path / "a.yaml", version["a"])
            write(tmp_path / "b.yaml", version["b"])
            assert book.maybe_reload().changed
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert failures == []
    assert seen == {"v0", "v1"}


def test_a_missing_rules_directory_is_reported(tmp_path: Path) -> None:
    book = RuleBook(tmp_path / "nope", channels=CHANNELS)
    assert book.current.rules == ()
    assert [p.message for p in book.last_outcome.problems] == ["no such file or directory"]
