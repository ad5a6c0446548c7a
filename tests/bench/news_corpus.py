"""A realistic stream of market news for the pipeline benchmark (issue 16, point 2).

Most articles a monitor reads are distinct events; some are syndicated copies of an
article already read (the same body under another outlet's banner and footer) and some
are rewrites of an event in other words. This stream has ~60% distinct events, ~25%
copies and ~15% rewrites, of 50 companies (the 18 of the story corpus and 32 more that
the vocabulary does not know), each article of real length (3-4 KB of text: the event,
then background on the stock, the analysts and the company's peers, then chrome).

Deterministic: ``random.Random`` with a fixed seed; every sentence is written here.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from monitor.values import FetchedArticle
from tests.eval import story_corpus as sc

SEED = 16
START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)

_FIRST = [
    "Northwind",
    "Bluefin",
    "Crescent",
    "Larkspur",
    "Halcyon",
    "Ironbark",
    "Juniper",
    "Kestrel",
    "Marlowe",
    "Oakridge",
    "Pinecrest",
    "Quillon",
    "Redwater",
    "Silverline",
    "Tidewell",
    "Umberfield",
]
_SECOND = ("Semiconductor", "Robotics")
_MARKETS = ("industrial robot", "memory chip", "EV battery", "cloud security", "edge AI")
_PRODUCTS = ("sensors", "modules", "licences", "subscriptions", "servers")


def _others() -> tuple[sc.Company, ...]:
    made = []
    for i, first in enumerate(_FIRST):
        for j, second in enumerate(_SECOND):
            name = f"{first} {second}"
            made.append(
                sc.Company(
                    f"{first.lower()}-{second.lower()}",
                    name,
                    f"{name} Ltd" if (i + j) % 2 else f"{first} {second} Inc",
                    sc._codename(first),
                    _MARKETS[(i + j) % len(_MARKETS)],
                    _PRODUCTS[(i * 2 + j) % len(_PRODUCTS)],
                    bool((i + j) % 3 == 0),
                )
            )
    return tuple(made)


COMPANIES: tuple[sc.Company, ...] = sc.COMPANIES + _others()  # 18 + 32 = 50

_BANKS = ("Morgan Stanley", "Jefferies", "Bernstein", "Citi", "Nomura", "Macquarie", "UBS")
_RATINGS = ("overweight", "buy", "neutral", "outperform", "hold")
_CATALYSTS = ("quarterly report", "developer conference", "annual meeting", "investor day")
_DRIVERS = ("chip export rules", "trade talks", "AI spending", "currency moves")
_SPEAKERS = ("the chief executive", "the finance chief", "a spokesperson")
_OUTLETS = (
    ("Market Wire", "Market Wire Newsletter\nDaily stock headlines, free to your inbox"),
    ("Street Daily", "Street Daily | Premium\nSign up for the morning briefing"),
    ("AI Ledger", "AI Ledger\nThis story was written with an AI assistant"),
    ("Asia Tech Brief", "Asia Tech Brief\nListen to this story 00:00 / 04:12"),
    ("Capital Notes", "Capital Notes\nSponsored: open a trading account in 5 minutes"),
)
_FOOTERS = (
    "Follow us for more market news. Share this article: email, X, LinkedIn.",
    "Related stories: chip stocks to watch; the week ahead in tech earnings.",
    "Copyright the publisher. All rights reserved. Terms of use and privacy policy apply.",
    "Disclosure: the author holds no positions in the stocks mentioned.",
)


def _background(r: random.Random, c: sc.Company, at: datetime) -> list[str]:
    """Two to four paragraphs about the stock, analysts and peers, with figures of their
    own (peers' figures belong to the peers: attribution is part of the work)."""
    price = r.uniform(20, 400)
    peers = r.sample([p for p in COMPANIES if p is not c], 2)
    paras = [
        f"Shares of {c.name} closed at ${price:.2f} on {sc.date_text(at)}, "
        f"{r.choice(['up', 'down'])} {r.uniform(0.3, 6):.1f}% on the session, giving the "
        f"company a market value of about ${r.uniform(20, 900):.0f} billion. "
        f"The stock trades at {r.uniform(9, 45):.1f} times forward earnings, against "
        f"{r.uniform(12, 30):.1f} times for the sector. " + " ".join(r.sample(sc.FILLER, 2)),
        f"Analysts at {r.choice(_BANKS)} rate {c.short} {r.choice(_RATINGS)} with a price "
        f"target of ${price * r.uniform(1.05, 1.4):.0f}, citing demand for {c.product} and "
        f"a stronger position in the {c.market} market. "
        f"{r.choice(_BANKS)} expects revenue growth of {r.uniform(4, 30):.1f}% next year. "
        + " ".join(r.sample(sc.FILLER, 2)),
        f"Among peers, {peers[0].name} reported revenue growth of {r.uniform(2, 40):.1f}% "
        f"in its latest quarter, while {peers[1].name} holds about {r.uniform(3, 35):.0f}% of "
        f"the {peers[1].market} market. "
        f"{peers[0].short} shares have moved {r.uniform(-20, 60):.1f}% this year.",
        f"{c.name} employs about {r.randint(2, 190)},000 people and sells {c.product} in "
        f"more than {r.randint(12, 140)} countries. Over the past five years its revenue has "
        f"grown at {r.uniform(3, 28):.1f}% a year, and its operating margin has moved from "
        f"{r.uniform(5, 20):.1f}% to {r.uniform(8, 35):.1f}%. Management has said it wants "
        f"to keep spending on research, which took {r.uniform(6, 22):.1f}% of sales last "
        "year, even if that weighs on profit in the near term. " + " ".join(r.sample(sc.FILLER, 2)),
        f"The next catalyst is the {r.choice(_CATALYSTS)}"
        f" due on {sc.date_text(at + timedelta(days=r.randint(10, 80)))}, where investors "
        f"will look for an update on pricing, on the {c.market} market and on spending "
        "plans. Until then, the shares are likely to follow the wider market, which has "
        f"been driven by rate expectations and by {r.choice(_DRIVERS)}. "
        + " ".join(r.sample(sc.FILLER, 3)),
        f'"We are still early in this cycle," {r.choice(_SPEAKERS)}'
        f' of {c.short} told analysts on a call. "Customers are asking for more capacity than '
        'we can build this year, and we will keep investing to meet that demand." The '
        f"company did not give a figure for {at.year + 1}, but said its order book had grown "
        "faster than its capacity for three quarters in a row. " + " ".join(r.sample(sc.FILLER, 2)),
        " ".join(r.sample(sc.FILLER, 5)),
        " ".join(r.sample(sc.FILLER, 4)),
    ]
    return paras[:6] + r.sample(paras[6:], r.randint(1, 2))


def _dress(r: random.Random, title: str, body: str, at: datetime, n: int) -> FetchedArticle:
    outlet, banner = _OUTLETS[n % len(_OUTLETS)]
    text = "\n\n".join([banner, body, r.choice(_FOOTERS), f"(c) {at.year} {outlet}"])
    slug = "-".join(title.lower().split()[:8]).strip("?:'$")
    return FetchedArticle(
        url=f"https://{outlet.lower().replace(' ', '')}.test/{at:%Y/%m}/{slug}-{n}",
        guid=f"news-{n}",
        title=title,
        text=text,
        published_at=at,
        ai_generated=outlet == "AI Ledger",
    )


def generate(n: int, *, seed: int = SEED) -> list[FetchedArticle]:
    """``n`` articles in order of publication: ~60% distinct events, ~25% syndicated
    copies, ~15% rewrites of a recent event."""
    return list(stream(n, seed=seed))


def stream(n: int, *, seed: int = SEED) -> Iterator[FetchedArticle]:
    """:func:`generate`, one article at a time (the memory benchmark writes 100,000)."""
    return (article for article, _ in labelled(n, seed=seed))


def labelled(n: int, *, seed: int = SEED) -> Iterator[tuple[FetchedArticle, sc.Event]]:
    """:func:`stream` with the event each article tells (a copy tells its original's):
    ``tests/eval/eval_stories.py`` scores story grouping on it."""
    r = random.Random(seed)
    launches: dict[str, int] = {}
    seen: dict[tuple[str, str], list[datetime]] = {}
    recent: list[tuple[sc.Event, str, str]] = []  # (event, title, body) of recent articles
    at = START
    for i in range(n):
        at += timedelta(minutes=r.uniform(1, 20))
        roll = r.random()
        if roll < 0.60 or not recent:
            c = COMPANIES[r.randrange(len(COMPANIES))]
            e = sc._event(r, i, c, at, launches.get(c.id, 0), seen)
            if e.kind == "launch":
                launches[c.id] = launches.get(c.id, 0) + 1
            told = sc.tell(r, e, 0, at, "wire")
            body = "\n\n".join([told.text, *_background(r, c, at)])
            recent.append((e, told.title, body))
            del recent[:-300]
            yield _dress(r, told.title, body, at, i), e
        elif roll < 0.85:
            e, title, body = r.choice(recent[-100:])  # the same body under other chrome
            yield _dress(r, title, body, at, i), e
        else:
            e = r.choice(recent[-100:])[0]
            told = sc.tell(r, e, r.randint(1, 3), at, "daily")
            body = "\n\n".join([told.text, *_background(r, e.company, at)])
            yield _dress(r, told.title, body, at, i), e
