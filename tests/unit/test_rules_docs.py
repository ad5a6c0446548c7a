"""The analysts' guide stays true: every YAML example in rules/README.md loads cleanly,
and the amounts and durations it describes parse as it says."""

from __future__ import annotations

import re
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.rules.amounts import Amount, parse_amount, parse_duration
from monitor.rules.loader import FileResult, assemble, parse_text
from tests.conftest import CHANNELS

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "rules" / "README.md"
VOCABULARY = ROOT / "rules" / "vocabulary.yaml"


def examples() -> list[str]:
    """Each README example as a complete rule file."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    files = []
    for block in blocks:
        if block.startswith("rules:"):
            files.append(block)
        elif block.startswith("when:"):
            # a block may show several alternatives, each starting with "when:"
            for n, part in enumerate(re.split(r"(?m)^(?=when:)", block)):
                if part.strip():
                    body = textwrap.indent(part, "    ")
                    files.append(f"rules:\n  - id: example-{n}\n{body}")
        elif block.startswith("confirm:"):
            body = textwrap.indent(block, "    ")
            files.append(f"rules:\n  - id: example\n    when: {{new_term: qwen_models}}\n{body}")
    return files


def test_the_readme_has_examples_for_every_kind() -> None:
    text = "\n".join(examples())
    for kind in (
        "change",
        "threshold",
        "conflict",
        "new_term",
        "topic",
        "frequency",
        "spike",
        "stale",
    ):
        assert f"  {kind}:" in text or f"{{{kind}:" in text or f" {kind}: " in text, kind


@pytest.mark.parametrize("text", examples())
def test_readme_example_loads(text: str) -> None:
    vocab, _ = parse_text(VOCABULARY.read_text(encoding="utf-8"), "vocabulary.yaml")
    parsed, problems = parse_text(text, "README.md")
    assert problems == [], text
    rs = assemble(
        [FileResult("vocabulary.yaml", "", vocab), FileResult("README.md", "", parsed)],
        channels=CHANNELS,
    )
    assert [str(p) for p in rs.problems] == [], text
    assert rs.rules


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("2%", Amount(0.02, relative=True)),
        ("1.5pp", Amount(1.5, relative=False)),
        ("2 points", Amount(2.0, relative=False)),
        (3, Amount(3.0, relative=False)),
        ("5B", Amount(5e9, relative=False)),
        ("500M", Amount(5e8, relative=False)),
        ("1T", Amount(1e12, relative=False)),
    ],
)
def test_amounts(text: object, amount: Amount) -> None:
    assert parse_amount(text) == amount


@pytest.mark.parametrize("text", ["-2%", "lots", True, "2%%", -1])
def test_bad_amounts(text: object) -> None:
    with pytest.raises(ValueError):
        parse_amount(text)


def test_amount_sizes() -> None:
    assert Amount(0.02, relative=True).exceeded_by(53e9, 54.06e9)
    assert not Amount(0.02, relative=True).exceeded_by(53e9, 54.05e9)
    assert Amount(2.0, relative=False).exceeded_by(36.0, 34.0)
    assert not Amount(2.0, relative=False).exceeded_by(36.0, 34.5)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("6h", timedelta(hours=6)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_durations(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta


@pytest.mark.parametrize("text", ["7", 7, "7 days", "1y", False])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
