"""Every mistake an analyst can make, reported as path:line:col with the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.rules.loader import load_rules
from tests.conftest import CHANNELS as SHIPPED_CHANNELS
from tests.unit.test_rules_support import CHANNELS, VOCAB

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str, *, vocab: str = VOCAB) -> list[str]:
    write(tmp_path, "vocabulary.yaml", vocab)
    path = write(tmp_path, "rules.yaml", text)
    rs = load_rules(tmp_path, channels=CHANNELS)
    return [str(p).replace(str(path), "rules.yaml") for p in rs.problems]


def test_a_good_file_loads(tmp_path: Path) -> None:
    write(tmp_path, "vocabulary.yaml", VOCAB)
    write(
        tmp_path,
        "rules.yaml",
        """
rules:
  - id: capex
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 2%}}
    confirm: {stories: 2}
    notify: [slack, email]
  - id: qwen
    when: {new_term: qwen_models}
""",
    )
    rs = load_rules(tmp_path, channels=CHANNELS)
    assert rs.problems == ()
    assert [r.id for r in rs.rules] == ["capex", "qwen"]
    assert [r.kind for r in rs.rules] == ["change", "new_term"]
    assert rs.rules[0].line == 3 and rs.rules[1].line == 7
    assert [e.id for e in rs.vocabulary.entities] == ["alibaba", "tencent"]
    assert rs.vocabulary.terms[0].pattern.startswith("\\bQwen")


def test_yaml_syntax_error(tmp_path: Path) -> None:
    text = """
rules:
  - id: capex
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 2%}
    severity: high
"""
    (problem,) = problems_of(tmp_path, text)
    # PyYAML reports where the flow mapping went wrong: the next line's first token
    assert problem == "rules.yaml:5:5: YAML syntax: expected ',' or '}', but got '<scalar>'"


def test_a_character_yaml_forbids_is_located_on_one_line(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "rules:\n  - id: a\x00b\n")
    assert problem == (
        "rules.yaml:2:10: YAML: unacceptable character #x0000: special characters are not allowed"
    )


def test_python_tag_is_rejected_r1(tmp_path: Path) -> None:
    text = """
rules:
  - id: !!python/object/apply:os.system ["touch /tmp/pwned-by-rules"]
    when: {new_term: qwen_models}
"""
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith("rules.yaml:3:9: ")
    assert "python/object/apply:os.system" in problem
    assert not Path("/tmp/pwned-by-rules").exists()


def test_unknown_keys_with_did_you_mean(tmp_path: Path) -> None:
    text = """
rules:
  - id: capex
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 2%, direcion: up}}
    confirm: {storys: 2}
    severety: high
"""
    assert problems_of(tmp_path, text) == [
        "rules.yaml:4:69: rules.0.when.change.direcion: unknown key 'direcion'; "
        "did you mean 'direction'?",
        "rules.yaml:5:15: rules.0.confirm.storys: unknown key 'storys'; did you mean 'stories'?",
        "rules.yaml:6:5: rules.0.severety: unknown key 'severety'; did you mean 'severity'?",
    ]


def test_unknown_top_level_section(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "rule:\n  - id: x\n")
    assert problem == "rules.yaml:1:1: rule: unknown key 'rule'; did you mean 'rules'?"


def test_unknown_or_several_rule_kinds(tmp_path: Path) -> None:
    text = """
rules:
  - id: a
    when: {chnage: {entity: alibaba}}
  - id: b
    when:
      new_term: qwen_models
      topic: chip_export_controls
"""
    assert problems_of(tmp_path, text) == [
        "rules.yaml:4:11: rules.0.when: unknown rule kind 'chnage'; did you mean 'change'?",
        "rules.yaml:7:7: rules.1.when: give exactly one rule kind, found new_term, topic",
    ]


def test_wrong_types_and_values(tmp_path: Path) -> None:
    text = """
rules:
  - id: a
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: lots}}
    confirm: {stories: two}
    severity: hgh
    realert: 5
  - id: Bad Id
    when: {new_term: qwen_models}
"""
    got = problems_of(tmp_path, text)
    assert got[0].startswith("rules.yaml:4:65: rules.0.when.change.by: expected an amount")
    assert got[1].startswith("rules.yaml:5:24: rules.0.confirm.stories: Input should be a valid")
    assert got[2] == "rules.yaml:6:15: rules.0.severity: invalid value 'hgh'; did you mean 'high'?"
    assert got[3].startswith("rules.yaml:7:14: rules.0.realert: expected a duration")
    assert got[4].startswith("rules.yaml:8:9: rules.1.id: invalid id")
    assert len(got) == 5


def test_missing_required_key(tmp_path: Path) -> None:
    text = """
rules:
  - id: a
    when: {change: {entity: alibaba, metric: ai_capex_plan}}
"""
    (problem,) = problems_of(tmp_path, text)
    assert problem == "rules.yaml:4:20: rules.0.when.change.by: required key is missing"


def test_undefined_references(tmp_path: Path) -> None:
    text = """
rules:
  - id: a
    when: {change: {entity: alibabba, metric: capex, by: 2%}}
  - id: b
    when: {new_term: qwen_model}
  - id: c
    when: {topic: {topic: export_controls, entity: tencent}}
  - id: d
    when: {new_term: qwen_models}
    notify: [slak, pager]
"""
    assert problems_of(tmp_path, text) == [
        "rules.yaml:4:29: rules.0.when.change.entity: undefined entity 'alibabba'; "
        "did you mean 'alibaba'?",
        "rules.yaml:4:47: rules.0.when.change.metric: undefined metric 'capex'; "
        "expected one of: ai_capex_plan, cloud_market_share, pe_ratio",
        "rules.yaml:6:22: rules.1.when.new_term.family: undefined term family 'qwen_model'; "
        "did you mean 'qwen_models'?",
        "rules.yaml:8:27: rules.2.when.topic.topic: undefined topic 'export_controls'; "
        "did you mean 'chip_export_controls'?",
        "rules.yaml:11:14: rules.3.notify.0: unknown channel 'slak'; did you mean 'slack'?",
        "rules.yaml:11:20: rules.3.notify.1: unknown channel 'pager'; "
        "expected one of: email, log, slack, webhook",
    ]


def test_invalid_and_unbounded_regexes(tmp_path: Path) -> None:
    text = r"""
terms:
  broken: {pattern: 'Qwen(['}
  slow: {pattern: '(\w+\s?)+$'}
  empty: {pattern: 'x*'}
"""
    got = problems_of(tmp_path, text)
    assert got[0].startswith("rules.yaml:3:21: terms.broken.pattern: invalid regular expression")
    assert got[1].startswith("rules.yaml:4:19: terms.slow.pattern: the pattern can backtrack")
    assert got[2].startswith("rules.yaml:5:20: terms.empty.pattern: the pattern matches the empty")


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, "vocabulary.yaml", VOCAB)
    write(tmp_path, "a.yaml", "rules:\n  - id: same\n    when: {new_term: qwen_models}\n")
    b = write(
        tmp_path,
        "b.yaml",
        "entities:\n  alibaba: {names: [Ali]}\n"
        "rules:\n  - id: same\n    when: {new_term: qwen_models}\n",
    )
    rs = load_rules(tmp_path, channels=CHANNELS)
    got = [str(p) for p in rs.problems]
    assert got == [
        f"{b}:2:3: entities.alibaba: already defined in {tmp_path / 'vocabulary.yaml'}:3:3",
        f"{b}:4:9: rules.0.id: duplicate rule id 'same': first used at {tmp_path / 'a.yaml'}:2:9",
    ]
    assert [r.file for r in rs.rules] == [str(tmp_path / "a.yaml")]


def test_one_bad_file_never_disables_the_others(tmp_path: Path) -> None:
    write(tmp_path, "vocabulary.yaml", VOCAB)
    write(tmp_path, "good.yaml", "rules:\n  - id: good\n    when: {new_term: qwen_models}\n")
    write(tmp_path, "bad.yaml", "rules:\n  - id: bad\n    when: {new_term: [\n")
    write(tmp_path, "worse.yaml", "rules:\n  - id: worse\n    when: {new_term: nope}\n")
    rs = load_rules(tmp_path, channels=CHANNELS)
    assert [r.id for r in rs.rules] == ["good"]
    assert {Path(p.path).name for p in rs.problems} == {"bad.yaml", "worse.yaml"}
    assert str(tmp_path / "good.yaml") in rs.files


def test_a_vocabulary_left_out_is_one_line_per_rule_file_not_one_per_name(
    tmp_path: Path,
) -> None:
    """One bad pattern leaves the vocabulary file out, and with it every name it defines:
    the rules naming them say so once per file, so the one real problem stays in sight."""
    bad_vocab = VOCAB.replace("terms:\n", "terms:\n  slow: {pattern: '(a+)+$'}\n", 1)
    rules = """
rules:
  - id: a
    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 2%}}
  - id: b
    when: {new_term: qwen_models}
"""
    got = problems_of(tmp_path, rules, vocab=bad_vocab)
    vocab = str(tmp_path / "vocabulary.yaml")
    assert len(got) == 2 and got[0].startswith(f"{vocab}:") and "backtrack" in got[0]
    assert got[1] == (
        "rules.yaml:4:29: rules.0.when.change.entity: undefined entity 'alibaba' (and 2 more"
        f" undefined names: perhaps defined in {vocab}, left out for its problems)"
    )
    # with the vocabulary sound, a single misspelt name is reported as before
    assert problems_of(tmp_path, rules.replace("alibaba", "alibabba")) == [
        "rules.yaml:4:29: rules.0.when.change.entity: undefined entity 'alibabba'; "
        "did you mean 'alibaba'?"
    ]


def test_names_of_a_file_left_out_by_the_cross_checks_are_said_to_be_there(
    tmp_path: Path,
) -> None:
    """The vocabulary parses but is left out for a rule of its own (an unknown channel);
    an unrelated file does not parse. The names the other rules miss are the
    vocabulary's: the line says so, and does not send the reader to the unrelated file."""
    vocab = write(
        tmp_path,
        "vocabulary.yaml",
        VOCAB + "rules:\n  - id: v\n    when: {new_term: qwen_models}\n    notify: [pager]\n",
    )
    write(tmp_path, "broken.yaml", "rules: [\n")
    rules = write(
        tmp_path,
        "rules.yaml",
        "rules:\n  - id: a\n    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 2%}}\n",
    )
    got = [str(p) for p in load_rules(tmp_path, channels=CHANNELS).problems]
    (line,) = [p for p in got if p.startswith(str(rules))]
    assert line.endswith(
        f"undefined entity 'alibaba' (and 1 more undefined name: defined in {vocab},"
        " left out for its problems)"
    )


def test_one_file_checked_alone_sees_its_directorys_vocabulary(tmp_path: Path) -> None:
    write(tmp_path, "vocabulary.yaml", VOCAB)
    path = write(tmp_path, "t.yaml", "rules:\n  - id: t\n    when: {new_term: qwen_models}\n")
    rs = load_rules(path, channels=CHANNELS)
    assert rs.problems == () and [r.id for r in rs.rules] == ["t"]
    missing = load_rules(tmp_path / "nope.yaml", channels=CHANNELS)
    assert [p.message for p in missing.problems] == ["no such file"]


def test_cross_field_checks(tmp_path: Path) -> None:
    text = """
rules:
  - id: a
    when: {threshold: {entity: alibaba, metric: pe_ratio}}
  - id: b
    when: {stale: {entity: alibaba, gap_factor: 3}}
"""
    assert problems_of(tmp_path, text) == [
        "rules.yaml:4:23: rules.0.when.threshold: give 'above', 'below' or both",
        "rules.yaml:6:19: rules.1.when.stale: 'gap_factor' applies to sources only",
    ]
    text = """
rules:
  - id: c
    when: {change: {entity: alibaba, metric: pe_ratio, currency: USD, by: 1}}
"""
    assert problems_of(tmp_path, text) == [
        "rules.yaml:4:66: rules.0.when.change.currency: "
        "'currency' applies to money metrics; 'pe_ratio' is multiple"
    ]


def test_not_a_mapping(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "- just\n- a list\n")
    assert problem.startswith("rules.yaml:1:1: a rule file is a mapping")


@pytest.mark.parametrize("name", ["alibaba.yaml", "tencent.yaml"])
def test_shipped_rules_load_without_problems(name: str) -> None:
    rules_dir = ROOT / "rules"
    rs = load_rules(rules_dir, channels=SHIPPED_CHANNELS)  # the example channels file's
    assert [str(p) for p in rs.problems] == []
    assert str(rules_dir / name) in rs.files
    kinds = {r.kind for r in rs.rules if Path(r.file).name == name}
    assert kinds >= {"change", "threshold", "new_term", "topic", "conflict", "spike", "stale"}


def test_a_pattern_stalled_by_a_busy_machine_is_not_called_unbounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import regex

    from monitor.rules import patterns

    class Stalled:
        """A linear pattern whose first probe the machine stalls past the timeout."""

        def __init__(self, compiled: regex.Pattern[str]) -> None:
            self.compiled = compiled
            self.budgets: list[float | None] = []

        def search(self, text: str, timeout: float | None = None) -> object:
            if text:  # the probes, not the empty-string check
                self.budgets.append(timeout)
                if len(self.budgets) == 1:
                    raise TimeoutError
            return self.compiled.search(text)

    made: list[Stalled] = []
    real = regex.compile

    def stalled_compile(p: str) -> Stalled:
        made.append(Stalled(real(p)))
        return made[-1]

    # the very module object patterns.py calls regex.compile on
    monkeypatch.setattr(regex, "compile", stalled_compile)
    assert patterns.check_pattern(r"\bQwen[0-9]+\b") is None
    assert made[0].budgets[:2] == [patterns.PROBE_TIMEOUT_S, patterns.PROBE_TIMEOUT_S * 10]
    # the rest of the probes get the usual budget again
    assert set(made[0].budgets[2:]) == {patterns.PROBE_TIMEOUT_S}


@pytest.mark.parametrize(
    "pattern",
    [r"Qwen(\p{L}|\p{L}\p{L})+$", r"(?V1)Qwen(a|aa)+$", r"(?V1)Qwen(\w|\w\w)+$"],
)
def test_a_pattern_in_regex_only_syntax_is_judged_too(pattern: str) -> None:
    """`re` cannot read \\p{L} or (?V1), so these went unanalysed, and the probes, which
    never began with the pattern's literal start, did not reach their backtracking:
    the first took over 3 s on 45 characters, yet passed `rules check`."""
    from monitor.rules import patterns

    assert "backtrack" in (patterns.check_pattern(pattern) or "")


@pytest.mark.parametrize(
    "pattern", [r"(\p{Lu}\p{Ll}+)+", r"[\p{L}]+ Max", r"\P{L}+x", r"(?:\p{L}\p{M}*)+x"]
)
def test_a_pattern_in_regex_only_syntax_that_is_linear_passes(pattern: str) -> None:
    from monitor.rules import patterns

    assert patterns.check_pattern(pattern) is None
