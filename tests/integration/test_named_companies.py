"""A company outside the vocabulary is one company however its articles name it: a rewrite
that says "Quorvex" where the release said "Quorvex Information Technology", or whose
title names it without a cue, joins the release's story; two companies that share a first
word stay two. The names are made up, the sentences written for these tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.pipeline import Pipeline
from monitor.rules.loader import load_rules
from monitor.settings import Settings
from monitor.values import FetchedArticle
from tests.conftest import CHANNELS, RULES

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

RELEASE = (
    "Quorvex Information Technology said on Tuesday it will invest $3.4 billion in new "
    "data centres in Johor and Batam over the next two years, adding 450 megawatts of "
    "capacity for its cloud customers. Construction of the Johor campus starts in May, "
    "and the Batam site follows in the autumn."
)
REWRITE_POSSESSIVE = (
    "Quorvex's spending plan is the largest yet in the region: $3.4 billion for data "
    "centres in Johor and Batam across the coming two years, adding 450 megawatts of "
    "capacity for cloud customers, with the Johor campus started in May."
)
REWRITE_TITLE = (
    "The operator will put $3.4 billion into data centres in Johor and Batam over two "
    "years, adding 450 megawatts of capacity for cloud customers; the Johor campus starts "
    "in May. CoreWeave made a similar bet in Texas last year."
)
OTHER_RELEASE = (
    "Halvor Systems said it will build a $1.2 billion chip packaging plant in Penang, "
    "with 2,000 jobs and output from 2028."
)
THIRD_RELEASE = (
    "Halvor Labs said it raised $310 million from sovereign funds to train models for "
    "Malay and Thai, at a valuation of $2.9 billion."
)
AMBIGUOUS = (
    "Halvor's revenue rose 12% in the quarter to $410 million, the company said, helped "
    "by orders from Malaysian banks."
)


def _article(i: int, title: str, text: str) -> FetchedArticle:
    return FetchedArticle(
        url=f"https://named.test/{i}",
        guid=f"named-{i}",
        title=title,
        text=text,
        published_at=AT + timedelta(hours=i),
    )


ITEMS = [
    _article(0, "Quorvex to build data centres in Johor and Batam", RELEASE),
    _article(1, "A regional bet on data centres", REWRITE_POSSESSIVE),
    _article(2, "Quorvex Doubles Down on Southeast Asian Data Centres", REWRITE_TITLE),
    _article(3, "Penang gets a packaging plant", OTHER_RELEASE),
    _article(4, "Funds back a Malay language model", THIRD_RELEASE),
    _article(5, "Halvor Sales Climb on Bank Orders", AMBIGUOUS),
]


def _stories(engine: Engine) -> dict[str, tuple[int, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.guid, a.story_id, s.main_entity FROM article a"
                " JOIN story s ON s.id = a.story_id"
            )
        ).all()
    return {guid: (int(sid), main) for guid, sid, main in rows}


def _ingest(engine: Engine, items: list[FetchedArticle], *, one_by_one: bool) -> None:
    pipe = Pipeline(Settings(), engine, load_rules(RULES, channels=CHANNELS))
    for part in [[it] for it in items] if one_by_one else [items]:
        pipe.ingest(part, source="named")


def _check(engine: Engine) -> None:
    got = _stories(engine)
    release = got["named-0"]
    assert release[1] == "quorvex_information"
    assert got["named-1"] == release  # "Quorvex's spending plan"
    assert got["named-2"] == release  # the title's "Quorvex", CoreWeave in passing
    systems, labs, ambiguous = got["named-3"], got["named-4"], got["named-5"]
    assert (systems[1], labs[1]) == ("halvor_systems", "halvor_labs")
    assert len({release[0], systems[0], labs[0], ambiguous[0]}) == 4


def test_a_company_outside_the_vocabulary_is_one_company_however_named(engine: Engine) -> None:
    _ingest(engine, ITEMS, one_by_one=True)
    _check(engine)


def test_the_same_in_one_batch(engine: Engine) -> None:
    """Stories begun earlier in the batch are named by its later articles as well."""
    _ingest(engine, ITEMS, one_by_one=False)
    _check(engine)


def test_the_same_under_a_collation_that_ignores_punctuation(pg_engine: Engine) -> None:
    """Under glibc's en_US.UTF-8, a common database default, "quorvex_information" sorts
    as "quorvexinformation", past the end of the range "quorvex_" to "quorvex`": the
    rewrites that name the company by its short name started stories of their own. Here
    the column takes an ICU collation that ignores punctuation as glibc's does."""
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE COLLATION no_punctuation (provider = icu, locale = 'und-u-ka-shifted')"
        )
        conn.exec_driver_sql(
            "ALTER TABLE story ALTER COLUMN main_entity TYPE VARCHAR COLLATE no_punctuation"
        )
        assert (
            conn.exec_driver_sql(
                "SELECT 'quorvex_information' < 'quorvex`' COLLATE no_punctuation"
            ).scalar_one()
            is False
        )  # the range missed it
    _ingest(pg_engine, ITEMS, one_by_one=True)
    _check(pg_engine)


def test_a_companys_longer_names_are_read_from_an_index(pg_engine: Engine) -> None:
    _ingest(pg_engine, ITEMS[:1], one_by_one=True)
    with pg_engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = " ".join(
            str(row[0])
            for row in conn.exec_driver_sql(
                'EXPLAIN SELECT DISTINCT main_entity FROM story WHERE main_entity COLLATE "C"'
                " >= 'quorvex_' AND main_entity COLLATE \"C\" < 'quorvex`' LIMIT 8"
            )
        )
    assert "ix_story_entity_bytes" in plan
