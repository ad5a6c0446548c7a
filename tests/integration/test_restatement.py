"""Restatements of a standing story through the pipeline (issue 13, point 3).

A plan announced in January and told by two outlets is one story. AI-written commentary
in March that leads with the same plan figure is linked to it as a restatement: the
digest shows it as "restated by 1 more article, nothing new", never as a new story. A
raise of the plan in June is a story of its own. Every sentence here is written for this
test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.models import Alert
from monitor.pipeline import Pipeline
from monitor.rules.loader import load_rules
from monitor.settings import Settings
from monitor.store.db import make_engine, session_scope, upgrade
from monitor.store.story_views import MemberDetail, story_detail
from monitor.values import FetchedArticle
from tests.conftest import CHANNELS

ROOT = Path(__file__).resolve().parents[2]
JAN = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)

PLAN = (
    "Alibaba Pledges RMB 310.5 Billion to AI Infrastructure",
    "Alibaba said on Monday it will invest RMB 310.5 billion over the next three years in"
    " data centers and chips for artificial intelligence, its largest program to date.\n\n"
    "Chief executive Eddie Wu told analysts the group sees demand for computing power"
    " outrunning the capacity it can build in Hangzhou and abroad.",
)
RETOLD = (
    "Alibaba Unveils Three-Year AI Spending Plan",
    "Alibaba will pour RMB 310.5 billion into artificial intelligence infrastructure over"
    " three years, the Hangzhou company announced, as Eddie Wu bets on computing demand.\n\n"
    "The program covers servers, chips and new data centers in China and overseas.",
)
COMMENTARY = (
    "Can Alibaba's RMB 310.5 Billion AI Plan Pay Off?",
    "AInvest Newsletter\nDaily stocks & crypto headlines, free to your inbox\n"
    "With its RMB 310.5 billion plan for AI infrastructure over the next three years,"
    " Alibaba is making a large bet on computing demand.\n\n"
    "Investors have been quick to react, but the long-term picture is less clear. Analysts"
    " remain split on how long the momentum can last.",
)
RAISE = (
    "Alibaba Lifts Its AI Budget to RMB 410 Billion",
    "Alibaba raised its three-year AI infrastructure plan to RMB 410 billion from RMB"
    " 310.5 billion on Thursday, citing demand from cloud customers.\n\n"
    "The increase of RMB 99.5 billion will go mostly to overseas data centers.",
)


def item(key: str, story: tuple[str, str], at: datetime) -> FetchedArticle:
    title, text = story
    return FetchedArticle(
        url=f"https://news.test/{key}", guid=key, title=title, text=text, published_at=at
    )


def test_commentary_months_later_restates_the_plan_and_a_raise_is_new(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    now = [JAN]
    pipe = Pipeline(
        Settings(), engine, load_rules(ROOT / "rules", channels=CHANNELS), clock=lambda: now[0]
    )

    def ingest(key: str, story: tuple[str, str], at: datetime, source: str) -> int:
        now[0] = at + timedelta(hours=1)
        report = pipe.ingest([item(key, story, at)], source=source)
        (outcome,) = report.items
        assert outcome.story_id is not None
        return outcome.story_id

    plan = ingest("plan", PLAN, JAN, "wire")
    assert ingest("retold", RETOLD, JAN + timedelta(hours=5), "daily") == plan
    march = JAN + timedelta(days=67)
    assert ingest("commentary", COMMENTARY, march, "ainvest") == plan
    raise_ = ingest("raise", RAISE, JAN + timedelta(days=145), "wire")
    assert raise_ != plan

    with session_scope(engine) as s:
        detail = story_detail(s, plan)
        assert detail is not None and detail.article_count == 3
        restated = next(m for m in detail.members if m.url.endswith("/commentary"))
        assert isinstance(restated, MemberDetail)  # story_detail's members are all details
        assert restated.reason is not None and restated.reason["level"] == "restatement"
        assert ["RMB 310.5 billion", "RMB 310.5 billion"] in restated.reason["shared_facts"]
        # nothing the commentary states is new to the story
        assert not [f for f in detail.facts if f.article_id == restated.id and f.new_to_story]

    # the March digest: the plan's story, restated, not a new story
    now[0] = march + timedelta(days=1)
    view = pipe.preview(since=march - timedelta(days=1))
    shown = [st for c in view.companies for st in c.stories]
    (story,) = shown
    assert story.restated == "restated by 1 more article, nothing new"
    assert "new story" not in story.about
    engine.dispose()


RAISE_RULE = """
rules:
  - id: plan-change
    when:
      change: {entity: alibaba, metric: ai_capex_plan, currency: CNY, by: 2%, first: false}
    confirm: {stories: 1}
    trust: {ai: count}
    severity: high
    notify: [desk-email]
"""


def test_a_restatement_fires_nothing_and_a_raise_fires_the_change_rule(tmp_path: Path) -> None:
    """The restatement handling never silences a change: the plan's restatement months
    later raises no alert, and the raise is the change the rule exists for."""
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    vocabulary = (ROOT / "rules" / "vocabulary.yaml").read_text(encoding="utf-8")
    (rules_dir / "vocabulary.yaml").write_text(vocabulary, encoding="utf-8")
    (rules_dir / "plan.yaml").write_text(RAISE_RULE, encoding="utf-8")
    ruleset = load_rules(rules_dir, channels=CHANNELS)
    assert not ruleset.problems, ruleset.problems
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    now = [JAN]
    pipe = Pipeline(Settings(), engine, ruleset, clock=lambda: now[0])

    def alerts(key: str, story: tuple[str, str], at: datetime, source: str) -> list[str]:
        now[0] = at + timedelta(hours=1)
        report = pipe.ingest([item(key, story, at)], source=source)
        with session_scope(engine) as s:
            rows = [s.get(Alert, i) for i in report.alert_ids]
            return [row.title for row in rows if row is not None]

    assert alerts("plan", PLAN, JAN, "wire") == []  # the first value is the baseline
    assert alerts("retold", RETOLD, JAN + timedelta(hours=5), "daily") == []
    assert alerts("commentary", COMMENTARY, JAN + timedelta(days=67), "ainvest") == []
    (title,) = alerts("raise", RAISE, JAN + timedelta(days=145), "wire")
    assert "310.5" in title and "410" in title, title
    engine.dispose()
