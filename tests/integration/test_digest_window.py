"""A digest window by first-seen time (a channel's digest) or by news time (`rules test
--days`): after a backfill, the two differ for every story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.app import digests
from monitor.notify.render_text import render_text
from monitor.rules.display import Names
from monitor.store.db import session_scope
from monitor.store.digest_reads import ARTICLE, SOURCE, STORY, window
from tests.unit.extract_gold import load_vocabulary

NOW = datetime.now(UTC).replace(microsecond=0)
BACKFILL = NOW - timedelta(hours=1)  # when both articles were polled
OLD, RECENT = NOW - timedelta(days=90), NOW - timedelta(days=2)  # their dates


def _one_story_told_twice(engine: Engine) -> None:
    """A story whose first article is dated 90 days ago and its second 2 days ago, both
    first seen an hour ago (a backfill)."""
    with session_scope(engine) as s:
        s.execute(
            sa.insert(SOURCE).values(
                id=1, name="wire", url="https://wire.example.test/feed", kind="rss"
            )
        )
        s.execute(
            sa.insert(STORY).values(
                id=1, title="Acme plan", first_seen_at=BACKFILL, last_seen_at=BACKFILL
            )
        )
        for i, dated in ((1, OLD), (2, RECENT)):
            s.execute(
                sa.insert(ARTICLE).values(
                    id=i,
                    source_id=1,
                    entry_key=f"k{i}",
                    url=f"https://wire.example.test/{i}",
                    title=f"Acme plan, part {i}",
                    published_at=dated,
                    first_seen_at=BACKFILL,
                    sort_at=dated,
                    text="text",
                    content_hash=f"h{i}",
                    story_id=1,
                )
            )
        s.execute(sa.update(STORY).values(canonical_article_id=1))


def test_a_story_begun_before_the_period_is_not_new_by_news_time(engine: Engine) -> None:
    _one_story_told_twice(engine)
    since = NOW - timedelta(days=30)
    with session_scope(engine) as s:
        (live,) = window(s, channel=None, since=since, until=NOW).stories
        (news,) = window(s, channel=None, since=since, until=NOW, news_time=True).stories
        recent_only = window(s, channel=None, since=NOW - timedelta(days=1), until=NOW,
                             news_time=True)  # fmt: skip
        text = render_text(
            digests.would_be(s, [], names=Names(load_vocabulary()), since=since, until=NOW)
        )
    # the channel's digest: both articles arrived in the window, the story is new to it
    assert (live.started_at, live.new_articles) == (BACKFILL, 2)
    # the replay's: the story's news began 90 days ago, one article falls in the period
    assert (news.started_at, news.new_articles) == (OLD, 1)
    assert recent_only.stories == []  # nothing of the story is dated in the last day
    assert "Acme plan, part 1" in text and "new story" not in text, text
