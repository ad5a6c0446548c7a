"""The whole pipeline against a real local HTTP server serving seeds/, on a temporary SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from monitor.demo_server import serve_directory
from monitor.fetch.client import Fetcher
from monitor.fetch.source_file import load_sources
from monitor.models import Article, FactRow, Mention, Source, Story
from monitor.notify.render_html import render_html
from monitor.notify.render_text import render_text
from monitor.pipeline import Pipeline
from monitor.rules.loader import load_rules
from monitor.settings import HttpSettings, Settings
from monitor.store.db import make_engine, session_scope, upgrade
from tests.conftest import CHANNELS, RULES, SEEDS


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pipeline, list[object]]:
    tmp = tmp_path_factory.mktemp("skeleton")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'monitor.db'}",
        http=HttpSettings(allow_networks=["127.0.0.1/32"], jitter=0.0),
    )
    engine = make_engine(settings.db_url)
    upgrade(engine)
    ruleset = load_rules(RULES, channels=CHANNELS)
    assert not ruleset.problems, ruleset.problems
    pipe = Pipeline(settings, engine, ruleset)

    async def poll() -> list[object]:
        async with Fetcher(settings.http) as fetcher:
            return list(await pipe.poll_due(fetcher, all_sources=True))

    with serve_directory(SEEDS) as base_url:
        pipe.sync_sources(load_sources(SEEDS / "sources.yaml", base_url=base_url))
        reports = asyncio.run(poll())
    return pipe, reports


def test_every_source_polled_without_error(polled: tuple[Pipeline, list[object]]) -> None:
    pipe, reports = polled
    assert [getattr(r, "error", None) for r in reports] == [None] * len(reports)
    with session_scope(pipe.engine) as s:
        names = set(s.exec(select(Source.name).where(col(Source.active))))
        assert names == {"ainvest-markets-rss", "ainvest-wire-atom", "ainvest-site"}
        for src in s.exec(select(Source)):
            if src.active:
                assert src.last_success_at is not None and src.error_count == 0


def test_articles_stored_clean_and_folded_into_fewer_stories(
    polled: tuple[Pipeline, list[object]],
) -> None:
    pipe, _ = polled
    with session_scope(pipe.engine) as s:
        n_articles = s.exec(select(func.count()).select_from(Article)).one()
        n_stories = s.exec(select(func.count()).select_from(Story)).one()
        assert n_articles == 15
        assert 0 < n_stories < n_articles
        texts = list(s.exec(select(Article.text)))
        assert not any("Daily stocks & crypto headlines" in t for t in texts)
        assert not any("No comments yet" in t for t in texts)
        assert all(a.story_id is not None for a in s.exec(select(Article)))
        # the syndicated copy is recorded as a duplicate of the original
        assert (
            s.exec(
                select(func.count())
                .select_from(Article)
                .where(col(Article.duplicate_of).is_not(None))
            ).one()
            >= 1
        )


def test_facts_terms_and_topics_extracted(polled: tuple[Pipeline, list[object]]) -> None:
    pipe, _ = polled
    with session_scope(pipe.engine) as s:
        capex = list(
            s.exec(
                select(FactRow).where(
                    FactRow.entity == "alibaba", FactRow.metric == "ai_capex_plan"
                )
            )
        )
        values = {(f.value, f.currency) for f in capex}
        assert (53e9, "USD") in values and (380e9, "CNY") in values and (480e9, "CNY") in values
        assert all(f.quote and f.surface in f.quote for f in capex)
        terms = set(s.exec(select(Mention.value).where(Mention.kind == "term")))
        assert {"Qwen3-Max", "Qwen3-Omni"} <= terms
        topics = set(s.exec(select(Mention.name).where(Mention.kind == "topic")))
        assert "chip_export_controls" in topics


def test_digest_shows_stories_sources_capex_change_and_qwen(
    polled: tuple[Pipeline, list[object]],
) -> None:
    pipe, _ = polled
    d = pipe.preview(since=None)
    text = render_text(d)
    stories = [st for c in d.companies for st in c.stories]
    assert stories
    assert any(c.name == "Alibaba" for c in d.companies)
    assert "sources" in text, "the Alibaba plan story should be reported by several sources"
    capex = [ln for ln in text.splitlines() if "capex" in ln.lower() and "->" in ln]
    assert any("$53 billion -> $66 billion" in line for line in capex)  # the change alert
    assert "New Qwen model: Qwen3-Max" in text
    html = render_html(d)
    assert "<script" not in html and "Qwen3-Max" in html


def test_second_poll_adds_nothing(polled: tuple[Pipeline, list[object]], tmp_path: Path) -> None:
    pipe, _ = polled

    async def poll() -> list[object]:
        async with Fetcher(pipe.settings.http) as fetcher:
            return list(await pipe.poll_due(fetcher, all_sources=True))

    with session_scope(pipe.engine) as s:
        before = s.exec(select(func.count()).select_from(Article)).one()
    with serve_directory(SEEDS) as base_url:
        pipe.sync_sources(load_sources(SEEDS / "sources.yaml", base_url=base_url))
        reports = asyncio.run(poll())
    assert sum(getattr(r, "new", 0) for r in reports) == 0
    with session_scope(pipe.engine) as s:
        assert s.exec(select(func.count()).select_from(Article)).one() == before
