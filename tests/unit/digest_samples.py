"""Digest news for the tests: a realistic morning, and hostile variants of it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from monitor.notify.news import (
    AlertNews,
    Claim,
    CompanyNews,
    Conflict,
    DigestNews,
    Evidence,
    FigureChange,
    NewName,
    StoryNews,
)
from monitor.notify.severity import Severity

NOW = datetime(2026, 2, 25, 0, 0, tzinfo=UTC)
CAPEX_SENTENCE = (
    "Alibaba lifts its AI and cloud plan to RMB 480 billion and unveils Qwen3-Max, "
    "its largest model."
)


def ev(
    source: str,
    quote: str,
    *,
    hours_ago: float = 2,
    url: str = "https://wire.test/alibaba-480b",
    ai: bool = False,
) -> Evidence:
    return Evidence(
        source=source,
        published_at=NOW - timedelta(hours=hours_ago),
        quote=quote,
        url=url,
        ai_generated=ai,
    )


def alibaba_story(title: str = "Alibaba raises its AI plan to RMB 480 billion") -> StoryNews:
    capex = ev("wire", CAPEX_SENTENCE)
    return StoryNews(
        story_id=1,
        title=title,
        url="https://wire.test/alibaba-480b",
        sources=3,
        ai_generated=1,
        updated_at=NOW - timedelta(hours=1),
        new_articles=3,
        first_seen=True,
        changes=(
            FigureChange("AI and cloud capex plan", "RMB 480 billion", capex, "RMB 380 billion"),
            FigureChange(
                "cloud revenue growth",
                "triple-digit",
                ev(
                    "site",
                    "AI product revenue grew at a triple-digit pace.",
                    hours_ago=3,
                    url="https://site.test/ai-revenue",
                ),
            ),
        ),
        names=(NewName("Qwen model", "Qwen3-Max", capex),),
        conflicts=(
            Conflict(
                "China cloud market share",
                (
                    Claim("36%", ev("wire", "Alibaba holds 36% of China's cloud market.")),
                    Claim(
                        "33%",
                        ev(
                            "aiwire",
                            "Its share of China's cloud market is 33%.",
                            url="https://aiwire.test/a",
                            ai=True,
                        ),
                    ),
                ),
            ),
        ),
        alerts=(
            AlertNews(
                title="Alibaba AI and cloud capex plan: RMB 380B -> RMB 480B",
                severity="high",
                rule_id="alibaba-capex-change",
                fired_at=NOW - timedelta(minutes=50),
                evidence=(capex, ev("site", CAPEX_SENTENCE, url="https://site.test/a")),
                alert_id=11,
            ),
            AlertNews(
                title="New Qwen model: Qwen3-Max",
                severity="medium",
                rule_id="qwen-models",
                fired_at=NOW - timedelta(minutes=55),
                evidence=(capex,),
                alert_id=12,
            ),
        ),
    )


def tesla_story() -> StoryNews:
    return StoryNews(
        story_id=2,
        title="Tesla delivered 418,227 vehicles in the fourth quarter",
        url="https://wire.test/tesla-q4",
        sources=2,
        ai_generated=0,
        updated_at=NOW - timedelta(hours=5),
        new_articles=4,
    )


def morning(**changes: object) -> DigestNews:
    news = DigestNews(
        title="Morning digest",
        generated_at=NOW,
        since=NOW - timedelta(days=1),
        companies=(
            CompanyNews("Tesla", (tesla_story(),), entity_id="tesla"),
            CompanyNews("Alibaba", (alibaba_story(),), entity_id="alibaba"),
        ),
        alerts=(
            AlertNews(
                title="Source markets has published nothing for 3 days",
                severity="low",
                rule_id="operator:stale",
                fired_at=NOW - timedelta(hours=3),
                alert_id=13,
            ),
        ),
    )
    return replace(news, **changes)  # type: ignore[arg-type]


def hostile(text: str, link: str = "https://x.test/a") -> DigestNews:
    """A digest whose title, quote, source, figures and links all carry ``text``."""
    bad = Evidence(source=f"src {text}", published_at=NOW, quote=f"quote {text}", url=link)
    story = StoryNews(
        story_id=9,
        title=text,
        url=link,
        sources=1,
        ai_generated=0,
        updated_at=NOW,
        new_articles=1,
        changes=(FigureChange(f"label {text}", f"new {text}", bad, f"old {text}"),),
        names=(NewName(f"family {text}", f"name {text}", bad),),
        conflicts=(Conflict(f"on {text}", (Claim(f"a {text}", bad), Claim("b", bad))),),
        alerts=(
            AlertNews(
                title=f"alert {text}",
                severity="critical",
                rule_id="r",
                fired_at=NOW,
                evidence=(bad,),
            ),
        ),
    )
    return DigestNews(
        title=f"digest {text}",
        generated_at=NOW,
        companies=(CompanyNews(f"company {text}", (story,)),),
    )


def many_alerts(n: int, companies: int = 20) -> DigestNews:
    """A digest of ``n`` alerts spread over ``companies`` companies, a story per 5 alerts."""
    severities: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
    by_company: dict[int, list[StoryNews]] = {}
    for story_no in range((n + 4) // 5):
        alerts = []
        for k in range(story_no * 5, min(n, story_no * 5 + 5)):
            quote = f"Company {k % companies} said figure {k} rose to {k * 3} billion yuan."
            alerts.append(
                AlertNews(
                    title=f"Company {k % companies} figure {k}: {k} -> {k * 3} billion yuan",
                    severity=severities[k % 5],
                    rule_id=f"rule-{k % 7}",
                    fired_at=NOW - timedelta(minutes=k),
                    evidence=(ev(f"source{k % 9}", quote, url=f"https://news.test/{k}"),),
                    alert_id=k + 1,
                )
            )
        story = StoryNews(
            story_id=story_no,
            title=f"Story {story_no}: a company moves its plan",
            url=f"https://news.test/story/{story_no}",
            sources=1 + story_no % 4,
            ai_generated=story_no % 2,
            updated_at=NOW - timedelta(minutes=story_no),
            new_articles=2,
            alerts=tuple(alerts),
        )
        by_company.setdefault(story_no % companies, []).append(story)
    return DigestNews(
        title="Digest",
        generated_at=NOW,
        since=NOW - timedelta(days=1),
        companies=tuple(CompanyNews(f"Company {c}", tuple(s)) for c, s in by_company.items()),
    )
