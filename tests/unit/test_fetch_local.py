"""monitor ingest: local .txt, .html and .xml files as articles."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import IngestError
from monitor.fetch.local import SUFFIXES, files_under, read_local

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"


def test_txt_seed_is_one_clean_article(tmp_path: Path) -> None:
    source = SEEDS / "001_a8743c5debed99a4.txt"
    if not source.exists():
        pytest.skip(f"{source} not present")
    path = tmp_path / source.name
    shutil.copy(source, path)
    (article,) = read_local(path)
    assert article.url == path.resolve().as_uri() == article.guid
    assert article.url.startswith("file://")
    # the headline is the page's first line, kept whole
    assert article.title == source.read_text(encoding="utf-8").splitlines()[0]
    assert article.title.startswith("Alibaba's AI Push: ")
    assert article.ai_generated and article.agent_name == "Harrison Brooks"
    assert "Aime Summary" not in article.text and "No comments" not in article.text


def test_txt_without_headline_gets_its_first_sentence_as_title(tmp_path: Path) -> None:
    path = tmp_path / "plain.txt"
    path.write_text(
        "AInvest Newsletter\nAlibaba will spend $53 billion on AI. More follows here.\n"
    )
    (article,) = read_local(path)
    assert article.title == "Alibaba will spend $53 billion on AI."
    assert article.text == "Alibaba will spend $53 billion on AI. More follows here."


def test_html_file_keeps_its_file_uri(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_bytes(
        b'<html><head><title>T</title><link rel="canonical" href="https://x.example/a"></head>'
        b"<body><article><h1>Qwen3-Max launched</h1><p>Alibaba released Qwen3-Max.</p>"
        b"</article></body></html>"
    )
    (article,) = read_local(path)
    assert article.url == path.resolve().as_uri()
    assert article.title == "Qwen3-Max launched" and article.text == "Alibaba released Qwen3-Max."


def test_xml_feed_entries_keep_http_links(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(
        b'<rss version="2.0"><channel><title>F</title>'
        b"<item><guid>a</guid><title>A</title><link>https://news.example/a</link>"
        b"<description>Text A.</description></item>"
        b"<item><guid>b</guid><title>B</title><link>relative/b.html</link>"
        b"<description>Text B.</description></item>"
        b"</channel></rss>"
    )
    a, b = read_local(path)
    assert a.url == "https://news.example/a"
    assert b.url == path.resolve().as_uri() + "#entry=b"
    assert (a.guid, b.guid) == ("a", "b")


def test_directory_reads_supported_files_in_order(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("Second file text here.")
    (tmp_path / "a.txt").write_text("First file text here.")
    (tmp_path / "notes.md").write_text("ignored")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("Third file text here.")
    assert [a.text for f in files_under(tmp_path) for a in read_local(f)] == [
        "First file text here.",
        "Second file text here.",
        "Third file text here.",
    ]
    with pytest.raises(IngestError, match="is a folder"):
        read_local(tmp_path)


def test_a_tree_is_walked_lazily_in_sorted_path_order(tmp_path: Path) -> None:
    # names whose per-folder order could differ from the sorted order of whole paths
    for rel in ["a/z.txt", "a.txt", "a-b/c.TXT", "B/x.html", "b.htm", ".hidden/y.xml",
                "a/sub/deep.rss", "a/sub.txt", "notes.md", "a/sub/skip.pdf"]:  # fmt: skip
        path = tmp_path / "root" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("text")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "out.txt").write_text("text")
    (tmp_path / "root" / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    root = tmp_path / "root"
    walked = files_under(root)
    assert iter(walked) is walked  # a generator: nothing is listed ahead of the reader
    expected = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    assert list(walked) == expected
    assert [p.relative_to(root).as_posix() for p in expected] == [
        ".hidden/y.xml", "B/x.html", "a/sub/deep.rss", "a/sub.txt", "a/z.txt", "a-b/c.TXT",
        "a.txt", "b.htm",
    ]  # fmt: skip


def test_what_a_walk_cannot_read_is_reported_not_skipped(tmp_path: Path) -> None:
    """`ingest -r` skipped a dangling link, a link loop, a pipe and a folder it could
    not list without a word, and exited 0. Each is walked, and read_local names why it
    cannot be read. (An unlistable folder is faked: tests may run as root.)"""
    import os
    from unittest import mock

    root = tmp_path / "root"
    (root / "shut").mkdir(parents=True)
    (root / "ok.txt").write_text("Alibaba plans to invest RMB 380 billion.")
    (root / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    (root / "loop.txt").symlink_to(root / "loop.txt")
    os.mkfifo(root / "pipe.txt")
    (root / "notes.md").write_text("not a supported type: still skipped")
    (root / "archive.rss").symlink_to(root / "shut", target_is_directory=True)  # not followed
    real = os.scandir

    def scandir(path: Any) -> Any:
        if str(path).endswith("shut"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    with mock.patch("os.scandir", scandir):
        walked = [p.relative_to(root).as_posix() for p in files_under(root)]
        assert walked == ["dangling.txt", "loop.txt", "ok.txt", "pipe.txt", "shut"]
        why = {}
        for rel in walked:
            try:
                read_local(root / rel)
            except IngestError as exc:
                why[rel] = str(exc).split(": ", 1)[1]
    assert why == {
        "dangling.txt": "cannot read: No such file or directory",
        "loop.txt": "cannot read: Too many levels of symbolic links",
        "pipe.txt": "not a regular file (a pipe, socket or device)",
        "shut": "cannot list the folder: Permission denied",
    }


def test_binary_and_undecodable_files_are_named(tmp_path: Path) -> None:
    png = tmp_path / "image.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(IngestError, match=r"image\.txt: a binary file"):
        read_local(png)
    mangled = tmp_path / "mangled.txt"
    mangled.write_bytes(b"\xef\xbf\xbd" * 200 + b" some words")  # U+FFFD over and over
    with pytest.raises(IngestError, match=r"mangled\.txt: not readable as text"):
        read_local(mangled)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(
        "Caf\u00e9 revenue rose 12% in the quarter, the company said.".encode("latin-1")
    )
    assert "Café" in read_local(latin)[0].text  # another encoding is not a mangled file


@pytest.mark.parametrize("name", ["data.json", "noext"])
def test_unknown_file_types_are_refused_by_name(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("{}")
    with pytest.raises(IngestError) as info:
        read_local(path)
    assert str(path) in str(info.value)


def test_missing_and_broken_files_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as info:
        read_local(tmp_path / "missing.txt")
    assert "missing.txt" in str(info.value)
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<html><body>not a feed</body></html>")
    with pytest.raises(IngestError) as info:
        read_local(bad)
    assert "bad.xml" in str(info.value) and "not_a_feed" in str(info.value)
    empty = tmp_path / "empty.txt"
    empty.write_text("AInvest Newsletter\n\nNo comments yet\n")
    with pytest.raises(IngestError):
        read_local(empty)
