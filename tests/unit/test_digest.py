"""The digest renders one entry per story, escapes what the web sends, and drops bad links."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.notify.digest import (
    DigestAlert,
    DigestFact,
    DigestInput,
    DigestStory,
    format_value,
    render_html,
    render_text,
    safe_link,
)

NOW = datetime(2026, 2, 25, 8, 0, tzinfo=UTC)


def sample(title: str = "Alibaba raises its AI plan", url: str = "https://x.test/a") -> DigestInput:
    alert = DigestAlert(
        rule_id="alibaba-capex-change",
        severity="high",
        title="Alibaba capex plan changed",
        old="RMB 380B",
        new="RMB 480B",
        quote="The plan rises to RMB 480 billion.",
        url=url,
        story_id=1,
    )
    story = DigestStory(
        id=1,
        title=title,
        url=url,
        sources=("wire", "site"),
        article_count=3,
        first_seen=NOW,
        facts=(DigestFact("Alibaba · AI capex plan", "RMB 480B", "It rises to RMB 480 billion."),),
        terms=("Qwen3-Max",),
        alerts=(alert,),
    )
    return DigestInput(title="digest", generated_at=NOW, stories=(story,))


def test_text_digest_has_story_sources_change_and_terms() -> None:
    text = render_text(sample())
    assert "2 sources (wire, site), 3 articles" in text
    assert "Alibaba capex plan changed: RMB 380B -> RMB 480B" in text
    assert "new names: Qwen3-Max" in text


def test_html_escapes_titles_from_the_web() -> None:
    html = render_html(sample(title='<img src=x onerror="alert(1)"> & <script>x</script>'))
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=" in html and "&amp;" in html


def test_javascript_and_data_links_are_not_rendered_as_links() -> None:
    for bad in ("javascript:alert(1)", "data:text/html,hi", "JaVaScRiPt:x"):
        html = render_html(sample(url=bad))
        assert "javascript:" not in html.lower() and "data:text" not in html
    assert safe_link("https://x.test/a") == "https://x.test/a"
    assert safe_link("file:///etc/passwd") is None


def test_format_value() -> None:
    assert format_value(53e9, "money", "USD") == "$53B"
    assert format_value(380e9, "money", "CNY") == "RMB 380B"
    assert format_value(4.35e9, "money", "USD") == "$4.35B"
    assert format_value(35.8, "percent") == "35.8%"
    assert format_value(15, "multiple") == "15x"
    assert format_value(None, "money") == "?"
