"""The digest analysts read: grouping, order, wording, and text that stays text."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import jinja2
import pytest

from monitor.notify.digest import build_digest
from monitor.notify.news import CompanyNews, DigestNews
from monitor.notify.render_html import environment, render_html
from monitor.notify.render_json import render_json
from monitor.notify.render_slack import MAX_BLOCKS, MAX_SECTION_CHARS, render_slack
from monitor.notify.render_text import render_text
from monitor.notify.severity import SEVERITIES
from monitor.rules.schema import SEVERITIES as RULE_SEVERITIES
from tests.unit.digest_samples import (
    CAPEX_SENTENCE,
    NOW,
    hostile,
    many_alerts,
    morning,
    tesla_story,
)


def slack_texts(messages: list[dict[str, object]]) -> list[str]:
    """Every text Slack would read: fallbacks, sections and context elements."""
    out = []
    for m in messages:
        out.append(str(m["text"]))
        for block in m["blocks"]:  # type: ignore[attr-defined]
            if "text" in block:
                out.append(block["text"]["text"])
            out += [e["text"] for e in block.get("elements", [])]
    return out


def all_formats(news: DigestNews) -> dict[str, str]:
    view = build_digest(news)
    return {
        "text": render_text(view),
        "html": render_html(view),
        "slack": "\n".join(slack_texts(render_slack(view))),
        "json": json.dumps(render_json(view)),
    }


def test_grouped_by_company_then_story_newest_first() -> None:
    view = build_digest(morning())
    assert [c.name for c in view.companies] == ["Alibaba", "Tesla"]  # Alibaba's news is newer
    text = render_text(view)
    top = text.index("What changed")
    assert top < text.index("== ALIBABA [HIGH] ==") < text.index("== TESLA ==")
    assert text.index("== TESLA ==") < text.index("== OTHER ALERTS ==")
    first, second = text.splitlines()[text[:top].count("\n") + 1 :][:2]
    assert first.startswith("  [HIGH] Alibaba: AI and cloud capex plan RMB 380 billion -> RMB 480")
    assert second == "  Tesla: restated by 4 more articles, nothing new"


def test_a_story_shows_sources_and_only_what_is_new() -> None:
    text = render_text(build_digest(morning()))
    assert "3 sources (1 AI-generated) · 3 new articles · new story" in text
    assert "AI and cloud capex plan: RMB 380 billion -> RMB 480 billion" in text
    assert "New Qwen model: Qwen3-Max" in text
    assert "36% -- wire, 2026-02-24" in text and "33% -- aiwire, 2026-02-24 (AI-generated)" in text
    assert "restated by 4 more articles, nothing new" in text


def test_figures_given_as_words_are_shown_as_the_words() -> None:
    for name, out in all_formats(morning()).items():
        assert "triple-digit" in out, name
        assert "100%" not in out and ": 100" not in out, name


def test_each_sentence_is_quoted_once_whatever_it_supports() -> None:
    # the capex change, the new model and two alerts all come from one sentence
    for name, out in all_formats(morning()).items():
        assert out.count(CAPEX_SENTENCE) == 1, name


def test_every_piece_of_evidence_has_its_source_and_date() -> None:
    view = build_digest(morning(), tz=ZoneInfo("Asia/Shanghai"))
    cites = [c for co in view.companies for s in co.stories for p in s.points for c in p.cites]
    cites += [
        k.cite for co in view.companies for s in co.stories for x in s.conflicts for k in x.claims
    ]
    assert len(cites) == 5
    assert all(c.source and re.fullmatch(r"\d{4}-\d{2}-\d{2}", c.date) for c in cites)
    # 22:00 UTC on the 24th is the 25th in Shanghai: dates are the reader's
    assert {c.date for c in cites} == {"2026-02-25"}
    assert view.generated == "2026-02-25 08:00 CST"


def test_severity_is_visible_in_every_format() -> None:
    out = all_formats(morning())
    assert "[HIGH] Alibaba AI and cloud capex plan" in out["text"] and "[LOW] Source" in out["text"]
    assert ">HIGH</span>" in out["html"] and ">MEDIUM</span>" in out["html"]
    assert ":red_circle: *HIGH* Alibaba AI and cloud capex plan" in out["slack"]
    assert '"severity": "high"' in out["json"]
    assert build_digest(morning()).subject.startswith("[HIGH] Morning digest: Alibaba AI")


def test_plurals() -> None:
    one = morning(
        companies=(CompanyNews("Tesla", (replace(tesla_story(), sources=1, new_articles=1),)),),
        alerts=(),
    )
    view = build_digest(one)
    assert view.counts == "1 company · 1 story · 0 alerts"
    text = render_text(view)
    assert "  1 source\n" in text and "restated by 1 more article, nothing new" in text
    assert "2 sources" in render_text(build_digest(morning()))
    assert build_digest(morning()).counts == (
        "2 companies · 2 stories · 3 alerts (1 high, 1 medium, 1 low)"
    )


def test_a_new_story_with_nothing_tracked_is_not_called_a_restatement() -> None:
    """A story first seen since the last digest, whose article gave no figure, name or
    alert, is new: "restated ... nothing new" would tell the analyst it is old news."""
    new = replace(tesla_story(), sources=1, new_articles=1, first_seen=True)
    one = morning(companies=(CompanyNews("Tesla", (new,)),), alerts=())
    for name, out in all_formats(one).items():
        assert "restated by" not in out, name
        assert "1 article, no tracked figures or names" in out, name
    # a webhook receiver reads `restated` as old news: null here, the line in its own field
    (story,) = render_json(build_digest(one))["companies"][0]["stories"]
    assert story["restated"] is None
    assert story["nothing_tracked"] == "1 article, no tracked figures or names"
    text = render_text(build_digest(one))
    assert "  Tesla: 1 new story, nothing tracked\n" in text
    assert "  1 source · new story\n" in text
    # beside an older story restated, the top line says both
    both = morning(companies=(CompanyNews("Tesla", (new, tesla_story())),), alerts=())
    assert (
        "  Tesla: 1 new story, nothing tracked; restated by 4 more articles, nothing new\n"
        in render_text(build_digest(both))
    )


def test_min_severity_keeps_only_urgent_stories_and_alerts() -> None:
    view = build_digest(morning(), min_severity="high")
    assert [c.name for c in view.companies] == ["Alibaba"] and not view.other_alerts
    lines = [ln for p in view.companies[0].stories[0].points for ln in p.lines]
    assert [ln.severity for ln in lines if ln.severity] == ["high"]
    assert view.alert_ids == (11,)
    assert build_digest(morning()).alert_ids == (11, 12, 13)


def test_an_empty_digest_says_so() -> None:
    view = build_digest(
        DigestNews(title="Morning digest", generated_at=NOW, since=NOW - timedelta(days=1))
    )
    assert view.empty and view.counts == "0 companies · 0 stories · 0 alerts"
    assert "Nothing new since 2026-02-24 00:00 UTC." in render_text(view)
    assert "Nothing new since" in render_html(view)
    assert any("Nothing new" in t for t in slack_texts(render_slack(view)))


HOSTILE = [
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    "<!channel> <@U123> <!here|here> & <#C1>",
    "<a href='javascript:alert(1)'>x</a>",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_titles_and_quotes_are_text_never_markup(text: str) -> None:
    out = all_formats(hostile(text))
    html = out["html"]
    assert "<img" not in html and "<script" not in html and "<a href='javascript" not in html
    assert "&lt;" in html
    assert not re.search(r"<!(?!doctype)|<@|<#", out["slack"], flags=re.IGNORECASE)
    assert "&lt;" in out["slack"]


def test_links_other_than_http_are_dropped_everywhere() -> None:
    for bad in (
        "javascript:alert(1)",
        "JaVaScRiPt:x",
        "data:text/html,<b>hi",
        "file:///etc/passwd",
        "/relative",
    ):
        out = all_formats(hostile("title", link=bad))
        for name, rendered in out.items():
            assert bad.lower() not in rendered.lower(), (name, bad)
        assert re.findall(r'href="([^"]*)"', out["html"]) == []


def test_no_cr_or_lf_reaches_the_subject() -> None:
    view = build_digest(hostile("Alibaba\r\nBcc: victim@example.com\r\n\r\n<b>x</b>"))
    assert "\r" not in view.subject and "\n" not in view.subject
    assert "Bcc: victim@example.com" in view.subject  # shown, as harmless text on one line
    text = render_text(view)
    assert not any(line.startswith("Bcc:") for line in text.splitlines())


def test_autoescape_is_on_whatever_the_template_is_called() -> None:
    loader = jinja2.DictLoader({"note.txt": "{{ x }}", "page.j2": "{{ x }}", "x": "{{ x }}"})
    env = environment(loader)
    for name in ("note.txt", "page.j2", "x"):
        assert env.get_template(name).render(x="<script>") == "&lt;script&gt;"


def test_a_500_alert_digest_is_split_at_slack_limits() -> None:
    view = build_digest(many_alerts(500))
    messages = render_slack(view)
    assert len(messages) > 1
    for i, m in enumerate(messages, start=1):
        blocks = m["blocks"]
        assert 0 < len(blocks) <= MAX_BLOCKS
        for b in blocks:
            if b["type"] == "section":
                assert 0 < len(b["text"]["text"]) <= MAX_SECTION_CHARS
        assert f"part {i}/{len(messages)}" in blocks[0]["elements"][0]["text"]
        assert f"(part {i}/{len(messages)})" in m["text"]
    joined = "\n".join(slack_texts(messages))
    for k in (0, 137, 499):
        assert joined.count(f"figure {k}: {k} -&gt; {k * 3} billion yuan") == 1


def test_one_long_line_is_clipped_not_split_inside_an_entity_or_link() -> None:
    view = build_digest(hostile("<&>" * 2000))
    for m in render_slack(view):
        for b in m["blocks"]:
            if b["type"] == "section":
                text = b["text"]["text"]
                assert len(text) <= MAX_SECTION_CHARS
                assert not re.search(r"&(?:a|am|l|g|lt|gt|amp)?\u2026", text)


def test_json_items_follow_the_view() -> None:
    items = render_json(build_digest(morning()))
    json.dumps(items)  # serialisable
    alibaba = items["companies"][0]
    assert alibaba["name"] == "Alibaba" and alibaba["severity"] == "high"
    story = alibaba["stories"][0]
    assert story["url"] == "https://wire.test/alibaba-480b"
    assert story["points"][0]["quote"] == CAPEX_SENTENCE
    assert story["points"][0]["cites"][0] == {
        "source": "wire",
        "date": "2026-02-24",
        "url": "https://wire.test/alibaba-480b",
        "ai_generated": False,
    }
    assert items["alert_ids"] == [11, 12, 13]


def test_severity_names_match_the_rule_files() -> None:
    assert SEVERITIES == RULE_SEVERITIES
