"""sources.yaml: validated with path:line:col for every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import SourceFileError
from monitor.fetch.source_file import Selectors, check_css, load_sources, parse_duration

GOOD = """\
base_url: http://127.0.0.1:8765
sources:
  - name: markets
    url: /feeds/markets.rss
    kind: rss
    interval: 15m
    tags: [markets, china]
  - name: wire
    url: https://wire.example.com/atom.xml
    kind: atom
    interval: 3600
    fetch_full: true
  - name: site
    url: site/index.html
    kind: html
    interval: 1h30m
    selectors:
      items: "ul.news a.headline"
      title: h1
      body: article
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads_with_urls_resolved_and_intervals_parsed(tmp_path: Path) -> None:
    specs = load_sources(write(tmp_path, GOOD))
    assert [s.name for s in specs] == ["markets", "wire", "site"]
    assert specs[0].url == "http://127.0.0.1:8765/feeds/markets.rss"
    assert specs[0].interval_s == 900.0 and specs[0].tags == ("markets", "china")
    assert specs[1].interval_s == 3600.0 and specs[1].fetch_full
    assert specs[2].url == "http://127.0.0.1:8765/site/index.html"
    assert specs[2].interval_s == 5400.0
    assert specs[2].selectors == Selectors(items="ul.news a.headline", title="h1", body="article")
    assert specs[1].kind == "atom" and specs[0].selectors is None


def test_base_url_argument_wins_over_the_file(tmp_path: Path) -> None:
    specs = load_sources(write(tmp_path, GOOD), base_url="http://127.0.0.1:9999/demo/")
    assert specs[0].url == "http://127.0.0.1:9999/demo/feeds/markets.rss"
    assert specs[1].url == "https://wire.example.com/atom.xml"


def test_every_problem_is_reported_with_line_and_column(tmp_path: Path) -> None:
    bad = """\
sources:
  - name: one
    url: http://a.example/feed
    intervall: 15m
  - name: one
    url: http://b.example/feed
    kind: podcast
  - name: three
    url: http://c.example/
    kind: html
    selectors: {itemz: "a", title: "h1["}
  - name: four
    url: http://d.example/
    interval: soon
"""
    path = write(tmp_path, bad)
    with pytest.raises(SourceFileError) as info:
        load_sources(path)
    text = str(info.value)
    lines = text.splitlines()
    assert f"{path}:4:5: sources.0.intervall: unknown key; did you mean 'interval'?" in lines
    assert any(line.startswith(f"{path}:7:11: sources.1.kind:") for line in lines)
    assert any("itemz: unknown key; did you mean 'items'?" in line for line in lines)
    assert any("unterminated bracket" in line and line.startswith(f"{path}:11:") for line in lines)
    assert any(line.startswith(f"{path}:14:15: sources.3.interval:") for line in lines)
    # the duplicate is only detected when both entries are otherwise valid
    assert len(info.value.problems) >= 5


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    text = "sources:\n  - {name: a, url: 'http://x.example/'}\n  - {name: a, url: 'http://y.example/'}\n"
    with pytest.raises(SourceFileError) as info:
        load_sources(write(tmp_path, text))
    assert "duplicate source name 'a'" in str(info.value)
    assert info.value.problems[0].line == 3


def test_relative_url_without_base_is_a_located_problem(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError) as info:
        load_sources(write(tmp_path, "sources:\n  - name: a\n    url: /feed.xml\n"))
    assert info.value.problems[0].line == 3
    assert "base_url" in info.value.problems[0].message


def test_a_port_out_of_range_is_a_located_problem(tmp_path: Path) -> None:
    """urlsplit reads a port only when asked: 99999 loaded, and every poll of the source
    failed as an internal error."""
    text = (
        "sources:\n  - name: a\n    url: http://x.example:99999/feed\n"
        "  - name: b\n    url: http://x.example:0/feed\n"
        "  - name: c\n    url: http://x.example:feed/\n"
        "  - name: d\n    url: http://x.example:65535/feed\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(SourceFileError) as info:
        load_sources(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{path}:3:10: sources.0.url:") and "port out of range" in lines[0]
    assert lines[1].startswith(f"{path}:5:10: sources.1.url:") and "port out of range" in lines[1]
    assert lines[2].startswith(f"{path}:7:10: sources.2.url:") and "not a number" in lines[2]


def test_html_source_needs_an_items_selector(tmp_path: Path) -> None:
    text = "sources:\n  - name: a\n    url: http://x.example/\n    kind: html\n"
    with pytest.raises(SourceFileError) as info:
        load_sources(write(tmp_path, text))
    assert "selectors.items" in str(info.value)


def test_unsafe_yaml_and_syntax_errors_are_located(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError) as info:
        load_sources(write(tmp_path, "sources: !!python/object/apply:os.system ['true']\n"))
    assert info.value.problems[0].line == 1
    with pytest.raises(SourceFileError) as info:
        load_sources(write(tmp_path, "sources:\n  - name: [unclosed\n"))
    assert info.value.problems[0].path.endswith("sources.yaml")


def test_odd_files_are_located_problems_not_internal_errors(tmp_path: Path) -> None:
    """Each of these ended in an internal error (RecursionError, ValueError, OverflowError)
    naming no file, or, for a FIFO, held the command for ever."""
    import os

    cases = {
        "a: " + "[" * 500 + "]" * 500 + "\n": (1, "nested too deep"),
        "sources:\n  - name: s\n    url: " + "9" * 5000 + "\n": (3, "digits"),
        'sources:\n  - name: s\n    url: "http://[::1"\n': (3, "IPv6"),
        'base_url: "http://[::1"\nsources:\n  - name: s\n    url: /x\n': (1, "base_url"),
        "sources:\n  - name: s\n    url: http://x.test/\n    interval: " + "9" * 400 + "\n": (
            4,
            "far too long",
        ),
    }
    for text, (line, said) in cases.items():
        with pytest.raises(SourceFileError) as info:
            load_sources(write(tmp_path, text))
        first = info.value.problems[0]
        assert first.line == line and said in first.message, first
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SourceFileError) as info:
        load_sources(fifo)
    assert "not a regular file" in info.value.problems[0].message


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        ("30s", 30.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        ("45", 45.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "", "-5", 0, True, "15x", None])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize("selector", ["a[href", "a[[", "div..x", "p:nth-child(", 'a[title="x]', ""])
def test_bad_css_is_refused_at_load(selector: str) -> None:
    with pytest.raises(ValueError):
        check_css(selector)


def test_good_css_passes() -> None:
    assert check_css(" ul.news > li a[href^='/articles'] ") == "ul.news > li a[href^='/articles']"


def test_a_merged_key_is_overridden_as_yaml_says() -> None:
    """`<<: *base` then `names: [Bar]` was refused as a duplicate key, though YAML (and
    PyYAML's SafeLoader, whose merging this follows) lets the mapping's own key win. A key
    the mapping gives twice is still a mistake."""
    import yaml

    from monitor.yamlsource import YamlProblem, load_text

    for text in (
        "base: &b {names: [Foo], x: 1}\nent:\n  <<: *b\n  names: [Bar]\n",
        "a: &a {k: 1}\nb: &b {k: 2}\nc:\n  <<: [*a, *b]\n  j: 3\n",
        # the overriding mapping built again through an alias (already flattened)
        "b: &b {k: low, w: 1h}\ns: &s\n  <<: *b\n  k: high\nuse: *s\n",
    ):
        assert load_text(text, "t.yaml").data == yaml.safe_load(text)
    with pytest.raises(YamlProblem, match="3:3: duplicate key 'k'"):
        load_text("x:\n  k: 1\n  k: 2\n", "t.yaml")
