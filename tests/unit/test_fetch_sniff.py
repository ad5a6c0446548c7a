"""Binary bodies and files are told from text before they are decoded as text."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import pytest

from monitor.errors import IngestError, ParseError
from monitor.fetch.local import read_local
from monitor.fetch.pages import extract_article
from monitor.fetch.sniff import binary_kind

_RNG = random.Random(7)
RANDOM = bytes(_RNG.getrandbits(8) for _ in range(20000))
COMPRESSED = zlib.compress(bytes(range(256)) * 64)
TEXTS = {
    "en": "Acme Corp said revenue rose 12% in the quarter, beating estimates.\n",
    "zh": "报告显示，公司第三季度收入增长百分之十二。分析师表示，这一结果超出预期。\n",
    "ja": "日本銀行は金利を据え置いた。市場は円安に反応した。\n",
    "ko": "삼성전자는 3분기 영업이익이 증가했다고 밝혔다.\n",
    "hi": "कंपनी ने कहा कि तिमाही में राजस्व 12% बढ़ा।\n",
    "ar": "قالت الشركة إن الإيرادات ارتفعت بنسبة 12٪\n",
    "emoji": "Markets 📈 rallied 🚀 on the Fed's news 🎉\n",
}


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
@pytest.mark.parametrize("lang", sorted(TEXTS))
def test_text_behind_a_byte_order_mark_is_text(codec: str, lang: str) -> None:
    data = (TEXTS[lang] * 40).encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data
    assert binary_kind(data) is None


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00"])
@pytest.mark.parametrize("data", [RANDOM, COMPRESSED, b"%PDF-1.7\n" + COMPRESSED])
def test_binary_behind_a_byte_order_mark_is_binary(bom: bytes, data: bytes) -> None:
    kind = binary_kind(bom + data)
    assert kind is not None and "byte-order mark" in kind


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\n", "a PDF document"),
        (b"PK\x03\x04\x14\x00\x00\x00word/document.xml", "a ZIP archive"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
        (RANDOM, "control bytes"),
    ],
)
def test_binary_without_a_mark_is_binary(data: bytes, kind: str) -> None:
    assert kind in (binary_kind(data) or "")


def test_text_without_a_mark_is_text() -> None:
    page = "<html><body><p>Café – “quoted”, 12% up\t(Q3)</p></body></html>\n" * 50
    for codec in ("utf-8", "cp1252"):
        assert binary_kind(page.encode(codec)) is None
    # a stray NUL is stripped from text later; it does not make the page binary
    assert binary_kind(page.encode() + b"\x00") is None
    # UTF-16 written without a mark is left to the decoder, as it was
    assert binary_kind(page.encode("utf-16-le")) is None
    assert binary_kind(b"") is None


def test_a_binary_page_is_not_an_article() -> None:
    headers = {"Content-Type": "text/html; charset=utf-8"}
    for body, kind in ((b"\xff\xfe" + COMPRESSED, "UTF-16 byte-order mark"),
                       (b"%PDF-1.7\n" + COMPRESSED, "a PDF document")):  # fmt: skip
        with pytest.raises(ParseError) as info:
            extract_article(body, headers, "https://news.example.com/a", None)
        assert info.value.kind == "not_text"
        assert kind in str(info.value) and "served as text/html" in str(info.value)
        assert "\n" not in str(info.value)
    page = "<html><body><article><p>Acme Corp said revenue rose 12%.</p></article></body></html>"
    for codec in ("utf-16", "utf-16-be"):
        data = page.encode(codec)
        data = data if codec == "utf-16" else b"\xfe\xff" + data
        article = extract_article(data, headers, "https://news.example.com/a", None)
        assert article.text == "Acme Corp said revenue rose 12%."


@pytest.mark.parametrize("name", ["report.txt", "report.html", "report.htm"])
def test_ingest_names_a_binary_file_behind_a_byte_order_mark(tmp_path: Path, name: str) -> None:
    for i, data in enumerate((b"\xff\xfe" + COMPRESSED, b"\xfe\xff" + RANDOM, COMPRESSED)):
        path = tmp_path / f"{i}{name}"
        path.write_bytes(data)
        with pytest.raises(IngestError) as info:
            read_local(path)
        assert str(info.value).startswith(f"{path}: a binary file, not text (")


def test_ingest_reads_utf16_text(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes((TEXTS["zh"] * 3 + TEXTS["en"]).encode("utf-16"))
    (article,) = read_local(path)
    assert TEXTS["zh"].strip() in article.text
    assert "Acme Corp said revenue rose 12%" in article.text
