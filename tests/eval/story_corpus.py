"""A generated corpus of distinct market events for the story level (issue 13, point 6).

Deterministic (``random.Random`` with a fixed seed), every sentence written here for this
corpus. It models what made the story level chain unrelated events: many short articles
about distinct events of a few companies, each with the same boilerplate (newsletter
banners, disclaimers, filler sentences about investors and volatility), dates written as
text ("on March 4, 2025"), round numbers ("$1 billion", "100 million users") and common
percentages ("up 5%", "a 10% rise"). Events: capex plans, quarterly results, market share
reports, model and chip launches, price cuts, buybacks, deals and new data centres, of
18 companies over eighteen months, so one company has an event every few days.

Some events are told by several outlets in other words (other titles, other sentence
templates, figures rounded or given in another currency at another exchange rate, some
figures left out), within a few days. Some capex plans are restated by AI-written
commentary weeks or months later, leading with the plan's figure: those articles belong
to the plan's event. Later events of the same company that mention an old plan in their
body, or raise it, are events of their own.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.eval.story_scoring import Item

SEED = 20261204
START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
SPAN_DAYS = 540


@dataclass(frozen=True)
class Company:
    id: str  # the vocabulary's entity id: the label
    name: str  # as the articles name it
    short: str  # a second way to name it
    models: Callable[[random.Random, int], str]  # a release name for the n-th launch
    market: str  # the market its share is reported in
    product: str  # what it cuts prices of
    cny: bool  # reports in yuan


def _qwen(r: random.Random, n: int) -> str:
    return f"Qwen{3 + n // 4}-{r.choice(['Max', 'Omni', 'Coder', 'VL', 'Math', 'Plus'])}"


def _hunyuan(r: random.Random, n: int) -> str:
    return f"Hunyuan-{r.choice('TAMS')}{n + 1}"


def _ernie(r: random.Random, n: int) -> str:
    return r.choice([f"ERNIE {4 + n // 3}.{n % 3}", f"ERNIE X{n + 1}"])


def _doubao(r: random.Random, n: int) -> str:
    return f"Doubao-{1 + n // 3}.{n % 3 * 5}-{r.choice(['pro', 'lite', 'vision'])}"


def _pangu(r: random.Random, n: int) -> str:
    return f"Pangu {5 + n // 4}.{n % 4}"


def _mimo(r: random.Random, n: int) -> str:
    return f"MiMo-{r.choice([7, 9, 14, 32, 72])}B-{n + 1}"


def _kling(r: random.Random, n: int) -> str:
    return f"Kling {2 + n // 4}.{n % 4}"


def _llama(r: random.Random, n: int) -> str:
    return f"Llama {4 + n // 4}.{n % 4} {r.choice(['Scout', 'Maverick', 'Large'])}"


def _gemini(r: random.Random, n: int) -> str:
    return f"Gemini {2 + n // 4}.{n % 4} {r.choice(['Pro', 'Flash', 'Ultra'])}"


def _phi(r: random.Random, n: int) -> str:
    return f"Phi-{4 + n // 3}.{n % 3}"


_CODENAMES = [
    "Falcon",
    "Orion",
    "Vega",
    "Atlas",
    "Nimbus",
    "Cobalt",
    "Aurora",
    "Zephyr",
    "Onyx",
    "Helix",
    "Quasar",
    "Titan",
    "Polaris",
    "Sierra",
    "Lumen",
    "Raptor",
    "Cygnus",
    "Argon",
    "Kestrel",
    "Nova",
    "Meridian",
    "Pulsar",
    "Granite",
    "Tundra",
]


def _codename(prefix: str) -> Callable[[random.Random, int], str]:
    def name(r: random.Random, n: int) -> str:
        return f"{prefix} {_CODENAMES[(n * 7 + r.randrange(3)) % len(_CODENAMES)]} {n + 2}"

    return name


COMPANIES = (
    Company("alibaba", "Alibaba", "Alibaba Group", _qwen, "China cloud", "cloud storage", True),
    Company("tencent", "Tencent", "Tencent Holdings", _hunyuan, "China gaming", "cloud GPUs", True),
    Company("baidu", "Baidu", "Baidu Inc", _ernie, "China search", "its model API", True),
    Company("bytedance", "ByteDance", "ByteDance", _doubao, "short video", "Doubao tokens", True),
    Company(
        "huawei", "Huawei", "Huawei Technologies", _pangu, "China smartphone", "AI chips", True
    ),
    Company("xiaomi", "Xiaomi", "Xiaomi Corp", _mimo, "global smartphone", "smart TVs", True),
    Company(
        "kuaishou", "Kuaishou", "Kuaishou Technology", _kling, "live commerce", "video tools", True
    ),
    Company(
        "meituan",
        "Meituan",
        "Meituan",
        _codename("Meituan"),
        "food delivery",
        "delivery fees",
        True,
    ),
    Company(
        "netease", "NetEase", "NetEase", _codename("NetEase"), "mobile games", "game passes", True
    ),
    Company("jd", "JD.com", "JD.com", _codename("JD"), "China e-commerce", "logistics", True),
    Company("meta", "Meta", "Meta Platforms", _llama, "social advertising", "ad tools", False),
    Company("google", "Alphabet", "Google", _gemini, "global cloud", "Workspace plans", False),
    Company("microsoft", "Microsoft", "Microsoft", _phi, "global cloud", "Copilot seats", False),
    Company(
        "nvidia",
        "Nvidia",
        "Nvidia Corp",
        _codename("Nvidia"),
        "AI accelerator",
        "data center GPUs",
        False,
    ),
    Company(
        "amd",
        "AMD",
        "Advanced Micro Devices",
        _codename("AMD"),
        "server CPU",
        "Instinct GPUs",
        False,
    ),
    Company("intel", "Intel", "Intel", _codename("Intel"), "PC processor", "Xeon chips", False),
    Company(
        "broadcom",
        "Broadcom",
        "Broadcom",
        _codename("Broadcom"),
        "custom AI chip",
        "VMware licences",
        False,
    ),
    Company(
        "aws", "Amazon", "Amazon.com", _codename("Amazon"), "global cloud", "EC2 instances", False
    ),
)

PLACES = [
    "Malaysia",
    "Brazil",
    "Mexico",
    "Saudi",
    "Arabia",
    "Indonesia",
    "Thailand",
    "Germany",
    "France",
    "Japan",
    "Korea",
    "Chile",
    "Vietnam",
    "Poland",
    "Spain",
    "Ireland",
    "Finland",
    "Egypt",
    "Kenya",
    "India",
    "Turkey",
]
PARTNERS = [
    "a state utility",
    "a sovereign fund",
    "a regional telecom operator",
    "a national carmaker",
    "a large bank",
    "a logistics group",
    "a hospital network",
    "a retail chain",
]

# ------------------------------------------------------------------------- boilerplate

BANNERS = (
    "Market Wire Newsletter\nDaily stock headlines, free to your inbox",
    "Listen to this story\nAudio edition 00:00 / 03:10",
    "Sponsored: open a trading account in 5 minutes",
    "",
    "",
)
DISCLAIMERS = (
    "This article was produced with the help of an AI writing agent and reviewed by editors.",
    "Nothing here is investment advice; do your own research before you trade.",
    "Written by an automated research assistant trained on 32 billion parameters.",
    "",
)
FILLER = (
    "Investors have been quick to react, but the long-term picture is less clear.",
    "Analysts remain split on how long the momentum can last.",
    "The news lands at a time of heavy volatility across global markets.",
    "For long-term holders, the real question is what this means for future cash flows.",
    "Market watchers will look to the next quarterly report for confirmation.",
    "Sentiment has swung in recent weeks as macro data surprised to the upside.",
    "Competition is fierce, and execution will decide who comes out ahead.",
    "The move shows how quickly the industry landscape is changing.",
    "Some strategists warn that expectations may already be running ahead of reality.",
    "Regulation remains a wild card for the months ahead.",
    "Shares were up 5% in early trading before paring gains.",
    "The stock has risen 20% this year, outpacing the broader index.",
    "Trading volume was about 10% above its 30-day average.",
    "Options traders priced in a 10% move ahead of the news.",
    "Broader tech stocks rose 1% on the day.",
    "Some funds trimmed their stakes by 5% in the last quarter.",
    "The sector has more than 100 million retail investors watching it.",
    "Management reiterated its goal of $1 billion in annual savings.",
)
TAILS = (
    "What It Means for Investors",
    "Is the Rally Sustainable?",
    "A Turning Point?",
    "Why Wall Street Cares",
    "Opportunity or Warning Sign?",
    "",
    "",
)
MONTHS = "January February March April May June July August September October November December"


def date_text(at: datetime) -> str:
    return f"{MONTHS.split()[at.month - 1]} {at.day}, {at.year}"


def quarter_of(at: datetime) -> tuple[int, int]:
    """The last quarter reported by ``at``."""
    q = (at.month - 1) // 3
    return (4, at.year - 1) if q == 0 else (q, at.year)


# ---------------------------------------------------------------------------- amounts


def money(r: random.Random, value: float, cny: bool, rate: float) -> str:
    """How an outlet writes an amount (in yuan, often with a dollar conversion)."""
    b = value / 1e9
    if cny:
        shown = r.choice([f"RMB {b:.1f} billion", f"{b:.1f} billion yuan", f"RMB{b:.1f} billion"])
        if r.random() < 0.6:
            usd = b * rate
            shown += r.choice([f" (about ${usd:.1f} billion)", f", or roughly ${usd:.1f} billion"])
        return shown
    return r.choice([f"${b:.1f} billion", f"${b:.1f}bn", f"US${b:.1f} billion"])


def uneven(r: random.Random, lo: float, hi: float) -> float:
    """An amount with two or three significant digits that is not round."""
    while True:
        v = round(r.uniform(lo, hi), 1)
        if v % 5:
            return v


# ----------------------------------------------------------------------------- events


@dataclass
class Event:
    id: str
    company: Company
    kind: str
    at: datetime
    facts: dict[str, float]
    words: dict[str, str] = field(default_factory=dict)


# A company announces one plan, one buyback, one price cut of its product or gets one
# market share report a month at most; a launch, a deal or a site has a name of its own.
ONCE_A_MONTH = frozenset({"capex", "share", "price", "buyback"})


def _event(
    r: random.Random,
    n: int,
    company: Company,
    at: datetime,
    launches: int,
    seen: dict[tuple[str, str], list[datetime]],
) -> Event:
    kind = r.choice(
        ["capex", "results", "results", "share", "launch", "launch", "price", "buyback",
         "deal", "datacenter"]
    )  # fmt: skip
    q, y = quarter_of(at)
    if kind == "results" and (company.id, f"Q{q} {y}") in seen:
        kind = "deal"  # a company reports each quarter once
    if kind in ONCE_A_MONTH and any(
        abs((at - t).days) < 30 for t in seen.get((company.id, kind), ())
    ):
        kind = r.choice(["deal", "datacenter", "launch"])
    seen.setdefault((company.id, kind), []).append(at)
    e = Event(f"ev{n:04d}", company, kind, at, {})
    if kind == "capex":
        e.facts = {"plan": uneven(r, 20, 480) * 1e9, "years": r.choice([2, 3, 5])}
    elif kind == "results":
        seen[(company.id, f"Q{q} {y}")] = [at]
        e.facts = {
            "revenue": uneven(r, 15, 300) * 1e9,
            "growth": round(r.uniform(2, 40), 1),
            "profit": uneven(r, 2, 60) * 1e9,
        }
        e.words = {"quarter": f"Q{q} {y}", "q": str(q), "y": str(y)}
    elif kind == "share":
        e.facts = {"share": round(r.uniform(3, 45), 1), "prev": round(r.uniform(3, 45), 1)}
        e.words = {"firm": r.choice(["Canalys", "IDC", "Omdia", "Counterpoint", "Gartner"])}
    elif kind == "launch":
        e.words = {"model": company.models(r, launches)}
        e.facts = {"params": r.choice([7, 14, 32, 70, 120, 235, 405, 671]) * 1e9 + 0.0,
                   "score": round(r.uniform(60, 95), 1)}  # fmt: skip
    elif kind == "price":
        e.facts = {"cut": r.choice([15, 30, 45, 60, 85, 90]) + 0.0}
        e.facts["price"] = round(r.uniform(0.1, 9.9), 2)
    elif kind == "buyback":
        e.facts = {"buyback": uneven(r, 3, 60) * 1e9}
    elif kind == "deal":
        e.facts = {"deal": uneven(r, 1.1, 40) * 1e9}
        e.words = {"partner": r.choice(PARTNERS), "place": r.choice(PLACES)}
    else:
        e.facts = {"site": uneven(r, 1.1, 25) * 1e9, "mw": r.choice([150, 300, 450, 600]) + 0.0}
        e.words = {"place": r.choice(PLACES)}
    return e


# ---------------------------------------------------------------------------- telling


def _title(r: random.Random, e: Event, v: int, shown: dict[str, str]) -> str:
    # every kind's templates are written out; the missing fields of the others are blank
    c, w, f = e.company, defaultdict(str, e.words), defaultdict(float, e.facts)
    amounts = defaultdict(str, shown)
    name = r.choice([c.name, c.short])
    options: dict[str, list[str]] = {
        "capex": [
            f"{name} Commits {amounts['plan']} to AI Infrastructure",
            f"{name} Unveils {f['years']:.0f}-Year AI Spending Plan",
            f"{name} Lays Out Multi-Year Data Center Budget",
        ],
        "results": [
            f"{name} {w['quarter']} Revenue Rises {f['growth']}%",
            f"{name} Tops Estimates in Quarter {w['q']} of {w['y']}",
            f"{name} Reports Quarterly Results: Revenue {amounts['revenue']}",
        ],
        "share": [
            f"{name} Takes {f['share']}% of the {c.market} Market, {w['firm']} Says",
            f"{w['firm']}: {name} Share of {c.market} Market Shifts",
            f"How {name} Reached {f['share']}% in {c.market}",
        ],
        "launch": [
            f"{name} Launches {w['model']}",
            f"{name} Releases {w['model']}, Claims Top Benchmark Scores",
            f"{w['model']}: {name}'s Newest Model Arrives",
        ],
        "price": [
            f"{name} Cuts Prices of {c.product} by {f['cut']:.0f}%",
            f"{name} Slashes {c.product} Pricing",
            f"Price War: {name} Lowers {c.product} Costs",
        ],
        "buyback": [
            f"{name} Announces {amounts['buyback']} Share Buyback",
            f"{name} Boosts Shareholder Returns With New Repurchase",
            f"{name} to Buy Back Up to {amounts['buyback']} in Stock",
        ],
        "deal": [
            f"{name} Signs {amounts['deal']} Deal in {w['place']}",
            f"{name} Wins Contract With {w['partner'].title()} in {w['place']}",
            f"{w['place']} Deal Worth {amounts['deal']} Goes to {name}",
        ],
        "datacenter": [
            f"{name} to Build {amounts['site']} Data Center in {w['place']}",
            f"{name} Picks {w['place']} for New AI Campus",
            f"{name} Expands in {w['place']} With {f['mw']:.0f} MW Facility",
        ],
    }
    title = options[e.kind][v % 3]
    tail = r.choice(TAILS)
    return f"{title}: {tail}" if tail else title


def _facts_sentences(r: random.Random, e: Event, v: int, shown: dict[str, str]) -> list[str]:
    c, w, f = e.company, defaultdict(str, e.words), defaultdict(float, e.facts)
    amounts = defaultdict(str, shown)
    n = r.choice([c.name, c.short, "The company"])
    when = r.choice([f"on {date_text(e.at)}", "this week", f"in a statement on {date_text(e.at)}"])
    s: dict[str, list[list[str]]] = {
        "capex": [
            [
                f"{c.name} said {when} it will invest {amounts['plan']} in AI and cloud"
                f" infrastructure over the next {f['years']:.0f} years.",
                "The budget covers servers, chips and new data centers.",
            ],
            [
                f"Over the coming {f['years']:.0f} years, {c.name} plans to put {amounts['plan']}"
                " into computing capacity for artificial intelligence.",
                f"{n} called the spending a response to demand it cannot yet meet.",
            ],
            [
                f"{c.name} has set aside {amounts['plan']} for a {f['years']:.0f}-year build-out"
                " of AI data centers, it disclosed " + when + ".",
                "Executives framed it as the largest investment program in its history.",
            ],
        ],
        "results": [
            [
                f"{c.name} reported revenue of {amounts['revenue']} for {w['quarter']}, up"
                f" {f['growth']}% from a year earlier.",
                f"Net profit came to {amounts['profit']}.",
            ],
            [
                f"For the quarter ended in {w['quarter']}, {c.name} posted sales of"
                f" {amounts['revenue']}, a rise of {f['growth']}% year over year.",
                f"{n} earned {amounts['profit']} in the period.",
            ],
            [
                f"Revenue grew {f['growth']}% to {amounts['revenue']} in {w['quarter']},"
                f" {c.name} said {when}.",
                f"Profit reached {amounts['profit']}, beating the average estimate.",
            ],
        ],
        "share": [
            [
                f"{c.name} held {f['share']}% of the {c.market} market last quarter, according"
                f" to {w['firm']}, compared with {f['prev']}% a year earlier."
            ],
            [
                f"Research firm {w['firm']} puts {c.name}'s share of the {c.market} market at"
                f" {f['share']}%, against {f['prev']}% the year before."
            ],
            [
                f"{w['firm']} data show {c.name} with {f['share']}% of {c.market}, up from"
                f" {f['prev']}%."
            ],
        ],
        "launch": [
            [
                f"{c.name} released {w['model']} {when}, a model with"
                f" {f['params'] / 1e9:.0f} billion parameters.",
                f"It scored {f['score']} on a widely used reasoning benchmark.",
            ],
            [
                f"The new {w['model']} model from {c.name} has {f['params'] / 1e9:.0f} billion"
                f" parameters and a benchmark score of {f['score']}, the company said."
            ],
            [
                f"{c.name} made {w['model']} available to developers {when}.",
                f"{n} said {w['model']} reached {f['score']} points in its own tests.",
            ],
        ],
        "price": [
            [
                f"{c.name} cut the price of {c.product} by {f['cut']:.0f}% {when}, to"
                f" {f['price']} yuan per unit."
            ],
            [
                f"Customers of {c.product} will pay {f['cut']:.0f}% less, {c.name} said, with"
                f" the list price now {f['price']} yuan."
            ],
            [
                f"{c.name} is lowering {c.product} prices by {f['cut']:.0f}% as competition"
                " heats up."
            ],
        ],
        "buyback": [
            [f"{c.name} approved a share repurchase of up to {amounts['buyback']} {when}."],
            [
                f"The board of {c.name} authorised buying back as much as {amounts['buyback']}"
                " of its shares."
            ],
            [
                f"{c.name} will return {amounts['buyback']} to shareholders through buybacks,"
                " it said."
            ],
        ],
        "deal": [
            [
                f"{c.name} signed a {amounts['deal']} agreement with {w['partner']} in"
                f" {w['place']} {when}."
            ],
            [
                f"The contract with {w['partner']} in {w['place']} is worth {amounts['deal']},"
                f" {c.name} said."
            ],
            [
                f"{c.name} will supply {w['partner']} in {w['place']} under a deal valued at"
                f" {amounts['deal']}."
            ],
        ],
        "datacenter": [
            [
                f"{c.name} will spend {amounts['site']} on a {f['mw']:.0f} megawatt data center"
                f" in {w['place']}, it said {when}."
            ],
            [
                f"A new {f['mw']:.0f} MW campus in {w['place']} will cost {c.name}"
                f" {amounts['site']}."
            ],
            [
                f"{c.name} chose {w['place']} for a {amounts['site']} AI facility with"
                f" {f['mw']:.0f} megawatts of capacity."
            ],
        ],
    }
    return list(s[e.kind][v % 3])


def _amounts(r: random.Random, e: Event, rate: float, rounded: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in ("plan", "revenue", "profit", "buyback", "deal", "site"):
        if key in e.facts:
            value = e.facts[key]
            if rounded and r.random() < 0.3:
                value = round(value / 1e9) * 1e9
            out[key] = money(r, value, e.company.cny, rate)
    return out


def tell(r: random.Random, e: Event, v: int, at: datetime, outlet: str) -> Item:
    """One outlet's article about the event: the ``v``-th way of telling it."""
    rate = r.uniform(0.136, 0.142)  # each outlet its own yuan-dollar rate
    amounts = _amounts(r, e, rate, rounded=v > 0)
    title = _title(r, e, v, amounts)
    body = _facts_sentences(r, e, v, amounts)
    filler = r.sample(FILLER, r.randint(3, 6))
    if r.random() < 0.5:
        body = [filler.pop(0), *body]  # some ledes open with a generic line
    paras = [" ".join(body), " ".join(filler[:3]), " ".join(filler[3:])]
    disclaimer = r.choice(DISCLAIMERS)
    banner = r.choice(BANNERS)
    text = "\n\n".join(p for p in [banner, *paras, disclaimer] if p)
    return Item(f"{e.id}-{outlet}", title, text, e.id, e.company.id, at, source=outlet)


def restate(r: random.Random, e: Event, at: datetime, n: int) -> Item:
    """AI-written commentary weeks later, leading with a standing plan's figure."""
    c = e.company
    amount = money(r, e.facts["plan"], c.cny, r.uniform(0.136, 0.142))
    title = r.choice(
        [
            f"{c.name}'s {amount} AI Bet: {r.choice(TAILS[:5])}",
            f"Can {c.name}'s {amount} Plan Pay Off?",
            f"Inside {c.name}'s {amount} Infrastructure Push",
        ]
    )
    lede = r.choice(
        [
            f"With its {amount} plan for AI infrastructure over {e.facts['years']:.0f} years,"
            f" {c.name} is betting heavily on computing demand.",
            f"{c.name}'s commitment of {amount} to data centers and chips still frames how"
            " investors see the stock.",
        ]
    )
    filler = r.sample(FILLER, 5)
    text = "\n\n".join(
        [r.choice(BANNERS[:3]), f"{lede} {filler[0]}", " ".join(filler[1:]), DISCLAIMERS[2]]
    )
    return Item(f"{e.id}-restated{n}", title, text, e.id, c.id, at, source="commentary")


def mention_later(r: random.Random, e: Event, later: Event, at: datetime) -> Item:
    """A later event's article that recalls an old plan in its body: its own event."""
    item = tell(r, later, r.randrange(3), at, "wire")
    c = e.company
    amount = money(r, e.facts["plan"], c.cny, 0.139)
    recall = f"Earlier, {c.name} had pledged {amount} for AI infrastructure."
    paras = item.text.split("\n\n")
    paras.insert(len(paras) - 1, recall)
    return Item(item.key, item.title, "\n\n".join(paras), later.id, c.id, at, source="wire")


def generate(events: int = 1100, seed: int = SEED) -> list[Item]:
    """At least ``events`` distinct events (a few more: the restatement checks add some),
    told by one or more outlets; in order of publication."""
    r = random.Random(seed)
    launches: dict[str, int] = {}
    names: set[str] = set()
    seen: dict[tuple[str, str], list[datetime]] = {}
    made: list[Event] = []
    for n in range(events):
        c = COMPANIES[n % len(COMPANIES)]
        at = START + timedelta(minutes=r.randrange(SPAN_DAYS * 24 * 60))
        e = _event(r, n, c, at, launches.get(c.id, 0), seen)
        if e.kind == "launch":
            launches[c.id] = launches.get(c.id, 0) + 1
            while e.words["model"] in names:  # each release has a name of its own
                launches[c.id] += 1
                e.words["model"] = c.models(r, launches[c.id])
            names.add(e.words["model"])
        made.append(e)
    items: list[Item] = []
    outlets = ["wire", "daily", "markets", "tech"]
    for e in made:
        tellings = 1 if r.random() < 0.7 else r.randint(2, 4)
        for v in range(tellings):
            at = e.at + timedelta(hours=0 if v == 0 else r.uniform(1, 72))
            items.append(tell(r, e, v, at, outlets[v]))
    plans = [e for e in made if e.kind == "capex"]
    for i, e in enumerate(plans[::3]):
        for k in range(r.randint(1, 2)):
            items.append(restate(r, e, e.at + timedelta(days=r.uniform(21, 150)), k))
        later = [x for x in made if x.company is e.company and x.at > e.at + timedelta(days=20)]
        if later and i % 2 == 0:
            other = later[0]
            items.append(mention_later(r, e, other, other.at + timedelta(hours=2)))
    # keys are unique: a later event's article that recalls a plan takes a key of its own
    copies: dict[str, int] = {}  # how many items took each key so far
    out = []
    for it in sorted(items, key=lambda it: (it.published or START, it.key)):
        k = copies.get(it.key, 0)
        copies[it.key] = k + 1
        out.append(it if k == 0 else Item(f"{it.key}~{k}", it.title, it.text, it.event,
                                          it.company, it.published, it.source))  # fmt: skip
    return out
