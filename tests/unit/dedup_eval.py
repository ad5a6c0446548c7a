"""The deduplication evaluation set, generated deterministically from ``seeds/``.

Issue 4, point 5. Everything here derives from the demo corpus (``seeds/README.md`` says
which document belongs to which story and which facts each one states) through
``random.Random`` with fixed seeds, so every run sees the same documents.

* :func:`seed_docs`: the 15 demo documents, body text taken from the feed items and site
  pages (chrome around the body dropped), with their story labels and known facts.
* :func:`near_duplicate_set`: each seed body plus copies with swapped chrome, truncation
  of up to 20%, paragraph reordering, sentence drops and word edits aimed at known
  Jaccard levels (0.5 to 0.95). Ground truth is the exact shingle Jaccard, computed, not
  the level aimed at.
* :func:`rewrite_set`: the seed documents plus AI-style rewrites of each story's facts,
  written from templates that every story shares (the same chrome, filler sentences and
  title phrases), so unrelated stories look alike everywhere except in their facts.

Each document carries an ``Extraction`` built from the facts it was written with (the
README's per-document facts for the seeds, the sheet for a rewrite); ``test_dedup_eval``
runs the same sets with the real extractor as well when it can run.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from monitor.app.placement import Placement
from monitor.dedup.minhash import jaccard_of, shingles
from monitor.values import Extraction, Fact, TermHit, TopicHit

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
RNG_SEED = 20251202

# ------------------------------------------------------------------ the demo corpus

# Canonical link (feeds) or file stem (site) -> README key.
KEYS = {
    "gold-4200-fed-third-cut-8": "F-GOLD",
    "alibaba-launches-qwen3-max-7": "D1",
    "alibaba-52b-cloud-crown-4": "A4",
    "chip-ban-fallout-t-head-3": "E1",
    "alibaba-53b-ai-plan-1": "A1",
    "alibaba-lifts-ai-plan-480b-11": "C1",
    "entity-list-jitters-alibaba-9": "E2",
    "alibaba-apuesta-ia-nube-voss": "B",
    "inside-alibaba-rmb-380b-bet-2": "A2",
    "tencent-q3-2025-hunyuan-capex-0": "F-TENCENT",
    "alibaba-380-billion-yuan-reinvention": "A5",
    "alibaba-bets-the-house-on-ai": "A3",
    "alibaba-cloud-new-regions-480b": "C2",
    "qwen3-omni-arrives": "D2",
    "tesla-q4-2025-deliveries": "F-TESLA",
}


def story_label(key: str) -> str:
    """README: A1-A5 and B are story A; every other document is its own story."""
    return "A" if key == "B" or re.fullmatch(r"A\d", key) else key


MAIN_ENTITY = {"F-TENCENT": "tencent", "F-GOLD": None, "F-TESLA": None}

# Facts per document from seeds/README.md. A spec is
# "surface[=second currency][@entity][#metric]"; the unit, currency and value are parsed
# from the surface. The capex plan carries its metric, as the extractor gives it.
PLAN = "#ai_capex_plan"  # the metric of the capex plan
FACTS: dict[str, list[str]] = {
    "A1": ["$53 billion=RMB 380 billion" + PLAN, "4%", "30%@aws", "20%@microsoft",
           "13%@google", "36%", "200", "34%", "9", "76%", "62.62%", "RMB 130.11 billion",
           "$19.1 billion", "15x"],
    "A2": ["RMB 380 billion=$53 billion" + PLAN, "RMB120 billion=$16.5 billion", "34%", "9",
           "200", "36%", "62.62%", "RMB 130.11 billion", "$19.1 billion", "18x"],
    "A3": ["$53 billion=RMB 380 billion" + PLAN, "35.8%", "200", "34%", "9", "4%", "30%@aws",
           "20%@microsoft", "13%@google", "76%", "$19.1 billion"],
    "A4": ["$52 billion" + PLAN, "36%", "200", "34%", "9", "62.62%", "RMB 130.11 billion",
           "4%", "30%@aws", "20%@microsoft", "13%@google", "76%", "$19.1 billion"],
    "A5": ["380 billion yuan=$53 billion" + PLAN, "200", "36%", "34%", "9", "4%", "30%@aws",
           "20%@microsoft", "13%@google", "62.62%", "RMB 130.11 billion", "76%",
           "$19.1 billion"],
    "C1": ["RMB 480 billion=$66 billion" + PLAN, "RMB 380 billion=$53 billion" + PLAN,
           "RMB 100 billion", "26%"],
    "C2": ["RMB 480 billion=$66 billion" + PLAN, "RMB 380 billion" + PLAN, "29"],
    "D1": ["1 trillion", "80 billion", "3 billion"],
    "D2": ["119", "19", "10", "30 billion"],
    "E1": ["95%@nvidia"],
    "E2": ["2.7%"],
    "F-TENCENT": ["RMB 192.9 billion", "15.4%", "17.9%", "RMB 70.6 billion", "21%",
                  "RMB 36.2 billion", "1.41 billion", "43%", "RMB 20.8 billion", "10%",
                  "RMB 58.2 billion", "7%", "RMB 12.98 billion", "24%"],
    "F-GOLD": ["$4,200", "25 basis points", "3.50%", "3.75%", "60%", "$60", "4.15%",
               "$4,000"],
    "F-TESLA": ["418,227", "16%", "495,570", "$7,500", "1,636,129", "8.6%", "14.2"],
}  # fmt: skip
FACTS["B"] = FACTS["A1"]

TERMS: dict[str, list[str]] = {
    "A": ["Qwen3"],
    "C1": ["Qwen3-Max"],
    "C2": ["Qwen3-Max"],
    "D1": ["Qwen3-Max", "Qwen3-Max-Preview", "Qwen3-Next-80B-A3B"],
    "D2": ["Qwen3-Omni", "Qwen3-Max"],
    "F-TENCENT": ["Hunyuan"],
}
TOPICS = {"E1", "E2", "D1", "C1", "C2"}  # documents naming "export controls"

_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "B": 1e9}
_FIG = re.compile(
    r"^(?P<pre>\$|RMB ?)?(?P<num>[\d,]*\.?\d+)(?P<x>x)?(?P<pct>%)?"
    r"(?: ?(?P<scale>thousand|million|billion|trillion|B))?(?P<yuan> yuan)?(?P<bp> basis points)?"
    r"(?: [a-z][a-z ]*)?$"
)


def parse_figure(surface: str) -> tuple[str, str | None, float]:
    """(unit, currency, value) of a figure as the README writes it."""
    m = _FIG.match(surface)
    if m is None:
        raise ValueError(f"cannot parse figure {surface!r}")
    value = float(m["num"].replace(",", "")) * _SCALE.get(m["scale"] or "", 1.0)
    if m["pct"]:
        return "percent", None, float(m["num"])
    if m["bp"]:
        return "pp", None, float(m["num"]) / 100
    if m["x"]:
        return "multiple", None, value
    if m["pre"] == "$":
        return "money", "USD", value
    if m["pre"] or m["yuan"]:
        return "money", "CNY", value
    return "count", None, value


def facts_from(specs: Sequence[str], entity: str | None, quote: str = "") -> tuple[Fact, ...]:
    out: list[Fact] = []
    for spec in specs:
        spec, _, metric_id = spec.partition("#")
        metric = metric_id or None
        spec, _, owner = spec.partition("@")
        first, _, second = spec.partition("=")
        unit, cur, val = parse_figure(first)
        alt_cur: str | None = None
        alt_val: float | None = None
        if second:
            _, alt_cur, alt_val = parse_figure(second)
        out.append(
            Fact(
                entity=owner or entity,
                metric=metric,
                value=val,
                unit=unit,
                surface=first,
                quote=quote or first,
                span=(0, len(first)),
                confidence=0.9,
                currency=cur,
                alt_value=alt_val,
                alt_currency=alt_cur,
            )
        )
        if second:
            out.append(
                Fact(
                    entity=owner or entity,
                    metric=metric,
                    value=alt_val or 0.0,
                    unit=unit,
                    surface=second,
                    quote=quote or first,
                    span=(len(first) + 2, len(first) + 2 + len(second)),
                    confidence=0.9,
                    currency=alt_cur,
                    alt_value=val,
                    alt_currency=cur,
                )
            )
    return tuple(out)


def known_extraction(
    key: str, label: str, specs: Sequence[str], terms: Sequence[str]
) -> Extraction:
    entity = MAIN_ENTITY.get(label, "alibaba")
    topic = key in TOPICS or label in TOPICS
    return Extraction(
        main_entity=entity,
        facts=facts_from(specs, entity),
        terms=tuple(TermHit("models", t, t, (0, len(t)), entity) for t in terms),
        topics=(
            (TopicHit("chip_export_controls", "export controls", "", (0, 0), entity),)
            if topic
            else ()
        ),
        entities=(entity,) if entity else (),
    )


@dataclass(frozen=True)
class Doc:
    key: str  # A1, A1~trunc12, A/rw3 ...
    label: str  # the story it belongs to
    base: str  # the seed document it was made from
    kind: str  # seed | copy | rewrite
    title: str
    text: str
    published: datetime
    ai_generated: bool
    extraction: Extraction
    aimed_jaccard: float | None = None


_CHROME_LINE = re.compile(
    r"^(AInvest Newsletter|Daily stocks & crypto headlines,\sfree to your inbox|Aime Robot"
    r"|Aime Summary|author avatar|Comments|Add a public comment\.\.\.|No comments( yet)?"
    r"|Generated by AI Agent.*|[A-Z][a-z]+day, [A-Z][a-z]{2} \d+, \d{4} .*read"
    r"|[A-Z][a-z]{2}\.\d{2} \d{4}|- .*|AI Writing Agent.*)$"
)


def _body(html: str) -> str:
    tree = HTMLParser(html)
    node = tree.css_first("div.article-body") or tree.css_first("div.cuerpo")
    root = node if node is not None else tree.body
    if root is None:
        return ""
    paras = [p.text(deep=True).strip() for p in root.css("p, h2, h3")]
    paras = [p for p in paras if p and not _CHROME_LINE.match(p)]
    if node is None:
        # plain documents: the author box closes the article
        paras = [p for p in paras if not p.startswith("Listen to this article")]
    return "\n\n".join(paras)


def seed_docs() -> list[Doc]:
    """The demo documents in publication order, body text only."""
    found: list[tuple[str, str, str, datetime]] = []
    for path in sorted((SEEDS / "feeds").glob("*")):
        feed = feedparser.parse(path.read_bytes())
        for e in feed.entries:
            slug = e.link.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
            ts = e.get("published_parsed") or e.get("updated_parsed")
            y, mo, day, h, mi, sec = ts[:6]
            published = datetime(y, mo, day, h, mi, sec, tzinfo=UTC)
            found.append((slug, e.title, _body(e.content[0].value), published))
    for path in sorted((SEEDS / "site" / "articles").glob("*.html")):
        tree = HTMLParser(path.read_text(encoding="utf-8"))
        h1 = tree.css_first("h1.headline")
        when = tree.css_first("time.published")
        stamp = (when.attributes.get("datetime") if when is not None else None) or ""
        found.append(
            (
                path.stem,
                h1.text(deep=True).strip() if h1 is not None else path.stem,
                _body(path.read_text(encoding="utf-8")),
                datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC),
            )
        )
    docs = []
    for slug, title, body, published in found:
        key = KEYS.get(slug)
        if key is None:
            continue
        label = story_label(key)
        docs.append(
            Doc(
                key=key,
                label=label,
                base=key,
                kind="seed",
                title=title,
                text=body,
                published=published,
                ai_generated=True,
                extraction=known_extraction(key, label, FACTS[key], TERMS.get(label, [])),
            )
        )
    return sorted(docs, key=lambda d: (d.published, d.key))


# --------------------------------------------------------------- near-duplicate copies

CHROME_VARIANTS = [
    "AInvest Newsletter\n\nDaily stocks & crypto headlines, free to your inbox",
    "Boletín de AInvest\n\nTitulares diarios de acciones y criptomonedas, gratis en tu bandeja",
    "Listen to this article\n\nAInvest Podcast\n\nPlay 00:00 / 04:12 1x",
    "Comments\n\nAdd a public comment...\n\nNo comments yet",
    "Contenido generado por IA y revisado por el equipo editorial de AInvest.",
]
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _words(text: str) -> list[str]:
    return text.split(" ")


def _with_chrome(rng: random.Random, text: str) -> str:
    head, tail = rng.sample(CHROME_VARIANTS, 2)
    return f"{head}\n\n{text}\n\n{tail}"


def _truncate(rng: random.Random, text: str, share: float) -> str:
    words = _words(text)
    return " ".join(words[: max(1, round(len(words) * (1 - share)))])


def _reorder(rng: random.Random, text: str) -> str:
    paras = text.split("\n\n")
    rng.shuffle(paras)
    return "\n\n".join(paras)


def _drop_sentences(rng: random.Random, text: str, n: int) -> str:
    paras = [_SENTENCE.split(p) for p in text.split("\n\n")]
    slots = [(i, j) for i, p in enumerate(paras) for j in range(len(p))]
    gone = set(rng.sample(slots, min(n, max(0, len(slots) - 1))))
    return "\n\n".join(
        " ".join(s for j, s in enumerate(p) if (i, j) not in gone) for i, p in enumerate(paras)
    )


def _edit_words(seed: int, text: str, rate: float, vocab: Sequence[str]) -> str:
    rng = random.Random(seed)
    out: list[str] = []
    for w in _words(text):
        r = rng.random()
        if r < rate / 3:
            continue  # delete
        if r < 2 * rate / 3:
            out.append(rng.choice(vocab))  # substitute
        elif r < rate:
            out.extend([w, rng.choice(vocab)])  # insert
        else:
            out.append(w)
    return " ".join(out)


def edit_to_jaccard(seed: int, text: str, target: float, vocab: Sequence[str]) -> str:
    """Word edits at the rate that brings the copy closest to ``target`` Jaccard."""
    base = shingles(text)
    lo, hi = 0.0, 0.6
    best = text
    for _ in range(14):
        mid = (lo + hi) / 2
        cand = _edit_words(seed, text, mid, vocab)
        j = jaccard_of(base, shingles(cand))
        best = cand
        if abs(j - target) < 0.005:
            break
        if j > target:
            lo = mid
        else:
            hi = mid
    return best


EDIT_LEVELS = (0.95, 0.9, 0.85, 0.82, 0.8, 0.78, 0.75, 0.7, 0.6, 0.5)


def near_duplicate_set() -> list[Doc]:
    """Seeds and their copies. A copy keeps its base's label, facts and date (+ hours)."""
    rng = random.Random(RNG_SEED)
    seeds = seed_docs()
    vocab = sorted({w for d in seeds for w in _words(d.text) if w.isalpha()})
    out: list[Doc] = list(seeds)
    for n, d in enumerate(seeds):
        level: float | None
        if d.key == "B":
            continue  # B is A1's body already
        variants: list[tuple[str, str, float | None]] = [
            ("chrome1", _with_chrome(rng, d.text), None),
            ("chrome2", _with_chrome(rng, d.text), None),
            ("reorder", _reorder(rng, d.text), None),
            ("drop1", _drop_sentences(rng, d.text, 1), None),
            ("drop3", _drop_sentences(rng, d.text, 3), None),
            ("drop6", _drop_sentences(rng, d.text, 6), None),
        ]
        for share in (0.05, 0.12, 0.2):
            variants.append((f"trunc{round(share * 100)}", _truncate(rng, d.text, share), None))
        for level in EDIT_LEVELS:
            seed = RNG_SEED + 1000 * n + round(level * 100)
            variants.append(
                (f"edit{round(level * 100)}", edit_to_jaccard(seed, d.text, level, vocab), level)
            )
        combo = _with_chrome(rng, _reorder(rng, _truncate(rng, d.text, rng.uniform(0.0, 0.15))))
        variants.append(("combo", combo, None))
        variants.append(
            (
                "combo-edit",
                edit_to_jaccard(RNG_SEED + 7 * n, _drop_sentences(rng, d.text, 2), 0.9, vocab),
                None,
            )
        )
        for i, (name, text, level) in enumerate(variants):
            out.append(
                replace(
                    d,
                    key=f"{d.key}~{name}",
                    kind="copy",
                    text=text,
                    published=d.published + timedelta(minutes=10 * (i + 1)),
                    aimed_jaccard=level,
                )
            )
    return out


# ------------------------------------------------------------------ AI-style rewrites


@dataclass(frozen=True)
class Sheet:
    """What the rewrites of one story restate."""

    label: str
    names: tuple[str, ...]  # how the rewrites name the subject
    hooks: tuple[str, ...]  # title phrases specific to the story
    facts: tuple[tuple[str, str], ...]  # (figure spec, what it measures), headline first
    terms: tuple[str, ...] = ()
    colour: tuple[str, ...] = ()  # story-specific sentences without numbers


SHEETS = [
    Sheet(
        "A",
        ("Alibaba", "Alibaba Group", "the Hangzhou-based group"),
        ("AI Spending Spree", "Cloud Build-Out", "Three-Year AI Push", "Infrastructure Bet"),
        (
            (
                "$53 billion=RMB 380 billion#ai_capex_plan",
                "its three-year AI and cloud infrastructure plan",
            ),
            ("4%", "its share of the global cloud market"),
            ("30%@aws", "the global share held by AWS"),
            ("20%@microsoft", "Microsoft Azure's global share"),
            ("13%@google", "Google Cloud's global share"),
            ("36%", "its share of China's cloud market"),
            ("200 models", "its open-source Qwen family"),
            ("34%", "cloud revenue growth in the September quarter"),
            ("76%", "the drop in free cash flow"),
            ("62.62%", "the rise in fiscal 2025 net income"),
            ("RMB 130.11 billion", "fiscal 2025 net income"),
            ("$19.1 billion", "the buyback capacity still available"),
            ("15x", "the forward price-to-earnings multiple"),
        ),
        ("Qwen3",),
        ("Chief executive Eddie Wu calls AI a once-in-a-generation opportunity.",),
    ),
    Sheet(
        "C1",
        ("Alibaba", "Alibaba Group"),
        ("Bigger AI War Chest", "Raises Its AI Budget", "Plan Gets Bigger"),
        (
            ("RMB 480 billion=$66 billion#ai_capex_plan", "the enlarged three-year AI budget"),
            ("RMB 380 billion=$53 billion#ai_capex_plan", "the budget it set a year ago"),
            ("!RMB 100 billion", "the size of the increase"),
            ("26%", "the percentage increase in the budget"),
        ),
        ("Qwen3-Max",),
        ("Management says demand for AI compute is running ahead of supply.",),
    ),
    Sheet(
        "C2",
        ("Alibaba Cloud", "Alibaba"),
        ("New Overseas Regions", "Data Centers in Brazil and France", "Global Footprint Grows"),
        (
            (
                "RMB 480 billion=$66 billion#ai_capex_plan",
                "the enlarged plan that funds the expansion",
            ),
            ("RMB 380 billion#ai_capex_plan", "the earlier version of the plan"),
            ("!29 regions", "its worldwide footprint"),
        ),
        ("Qwen3-Max",),
        (
            "The new regions are in Brazil, France and the Netherlands.",
            "Local data centers let regulated customers keep data in-country.",
        ),
    ),
    Sheet(
        "D1",
        ("Alibaba", "Alibaba Cloud"),
        ("Trillion-Parameter Flagship", "Qwen3-Max Launch", "Biggest Model Yet"),
        (
            ("1 trillion parameters", "the size of the new flagship"),
            ("80 billion parameters", "the size of its open sparse model"),
            ("3 billion parameters", "the compute used per token in that sparse model"),
        ),
        ("Qwen3-Max", "Qwen3-Max-Preview", "Qwen3-Next-80B-A3B"),
        ("The flagship is sold through the Model Studio API rather than as open weights.",),
    ),
    Sheet(
        "D2",
        ("Alibaba", "Alibaba's Qwen team"),
        ("All-in-One Model", "Model That Sees and Hears", "Multimodal Push"),
        (
            ("119 languages", "its written-language coverage"),
            ("19 languages", "its speech input coverage"),
            ("10 languages", "its speech output coverage"),
            ("30 billion parameters", "the size of its mixture-of-experts design"),
        ),
        ("Qwen3-Omni", "Qwen3-Max"),
        ("The weights are open for developers to download.",),
    ),
    Sheet(
        "F-TENCENT",
        ("Tencent", "Tencent Holdings"),
        ("Third-Quarter Beat", "Restrained Capex", "Earnings Surprise"),
        (
            ("RMB 192.9 billion", "third-quarter revenue"),
            ("15.4%", "the rise in revenue"),
            ("RMB 70.6 billion", "non-IFRS net profit"),
            ("17.9%", "the growth in profit"),
            ("RMB 36.2 billion", "marketing services revenue"),
            ("1.41 billion users", "Weixin's monthly audience"),
            ("RMB 20.8 billion", "international games revenue"),
            ("RMB 12.98 billion", "capital expenditure in the quarter"),
            ("24%", "the fall in capital expenditure"),
        ),
        ("Hunyuan",),
    ),
    Sheet(
        "F-GOLD",
        ("gold", "bullion"),
        ("Fed's Third Cut", "Rate Cut Rally Stalls", "Slower Easing Path"),
        (
            ("$4,200", "the price of an ounce of gold"),
            ("25 basis points", "the size of the Fed's cut"),
            ("3.75%", "the top of the new policy range"),
            ("60%", "gold's gain so far in 2025"),
            ("$60", "the price of an ounce of silver"),
            ("4.15%", "the 10-year Treasury yield"),
        ),
    ),
    Sheet(
        "F-TESLA",
        ("Tesla",),
        ("Delivery Slump", "Tax-Credit Hangover", "Storage Record"),
        (
            ("418,227 vehicles", "fourth-quarter deliveries"),
            ("16%", "the drop in quarterly deliveries"),
            ("495,570 vehicles", "deliveries a year earlier"),
            ("$7,500", "the federal EV tax credit that expired"),
            ("1,636,129 vehicles", "full-year deliveries"),
            ("8.6%", "the annual decline"),
        ),
    ),
]

# Shared by every story: what makes AI-written market news look alike.
TITLE_TAILS = (
    "What It Means for Investors",
    "Can the Rally Last?",
    "A Turning Point for the Stock?",
    "Why the Market Is Paying Attention",
    "Opportunity or Warning Sign?",
)
FILLER = (
    "Investors have been quick to price in the news, but the longer-term picture is less clear.",
    "Analysts remain divided on how durable the momentum will prove to be.",
    "The announcement arrives at a moment of heightened volatility across global markets.",
    "For long-term shareholders, the real question is how this shapes future cash flows.",
    "Market watchers will look to the next quarterly report for confirmation.",
    "Sentiment has swung sharply in recent weeks as macro data surprised to the upside.",
    "Competition remains fierce, and execution will decide who comes out ahead.",
    "The move underscores how quickly the industry landscape is changing.",
    "Some strategists caution that expectations may already be running ahead of reality.",
    "Regulatory developments remain a wild card for the months ahead.",
)
FACT_TEMPLATES: tuple[Callable[[str, str, str], str], ...] = (
    lambda n, d, v: f"{n} put {d} at {v}.",
    lambda n, d, v: f"According to the latest figures, {d} stands at {v}.",
    lambda n, d, v: f"At {v}, {d} is a number investors will not ignore.",
    lambda n, d, v: f"{d[0].upper() + d[1:]} came to {v}, the figures show.",
    lambda n, d, v: f"Filings from {n} show {d} at {v}.",
    lambda n, d, v: f"Perhaps most telling is {d}: {v}.",
)
LEDE_TEMPLATES: tuple[Callable[[str, str, str], str], ...] = (
    lambda n, d, v: f"{n} is back in the spotlight, with {d} at {v}.",
    lambda n, d, v: f"All eyes are on {n} after it disclosed {d} of {v}.",
    lambda n, d, v: f"{n} has given the market a headline number: {v} for {d}.",
)


def _surface(rng: random.Random, spec: str) -> tuple[str, str]:
    """How a rewrite writes a figure, and the spec with any drift in the value.

    Rewrites disagree slightly now and then ("$52 billion" for "$53 billion", "35.8%" for
    "36%"), as the demo documents do.
    """
    spec, _, metric = spec.partition("#")
    spec, _, owner = spec.partition("@")
    first, _, second = spec.partition("=")
    unit, _, _ = parse_figure(first)
    if unit == "percent" and rng.random() < 0.15 and "." not in first:
        first = f"{float(first[:-1]) - 0.2:.1f}%"
    if second and rng.random() < 0.5:
        first, second = second, first
    shown = (
        first if not second else rng.choice([f"{first} ({second})", f"{first}, or about {second}"])
    )
    kept = "=".join(filter(None, [first, second])) + (f"@{owner}" if owner else "")
    return shown, kept + (f"#{metric}" if metric else "")


def rewrite(sheet: Sheet, n: int, published: datetime) -> Doc:
    rng = random.Random(f"{RNG_SEED}/{sheet.label}/{n}")
    name = rng.choice(sheet.names)
    lead = sheet.names[0]
    head_spec, head_desc = sheet.facts[0]
    # "!" marks what the story is about (the new regions, the size of the raise): every
    # rewrite says it; the other figures are kept at random
    core = [(f[1:], d) for f, d in sheet.facts[1:] if f.startswith("!")]
    rest = [(f, d) for f, d in sheet.facts[1:] if not f.startswith("!")]
    rng.shuffle(rest)
    kept = [sheet.facts[0], *core, *rest[: max(1, round(len(rest) * rng.uniform(0.6, 1.0)))]]
    used: list[str] = []
    shown, spec = _surface(rng, head_spec)
    used.append(spec)
    sentences = [rng.choice(LEDE_TEMPLATES)(lead, head_desc, shown)]
    body: list[str] = []
    for fspec, desc in kept[1:]:
        shown, spec = _surface(rng, fspec)
        used.append(spec)
        body.append(rng.choice(FACT_TEMPLATES)(name if rng.random() < 0.5 else lead, desc, shown))
    body.extend(rng.sample(FILLER, rng.randint(3, 6)))
    body.extend(sheet.colour)
    terms = [t for t in sheet.terms if rng.random() < 0.8] or list(sheet.terms[:1])
    if terms:
        body.append(f"The company also pointed to {', '.join(terms)}.")
    rng.shuffle(body)
    paras = [" ".join(sentences + body[:2])]
    for i in range(2, len(body), 3):
        paras.append(" ".join(body[i : i + 3]))
    text = "\n\n".join(paras)
    if rng.random() < 0.5:
        text = _with_chrome(rng, text)
    title = f"{lead}'s {rng.choice(sheet.hooks)}: {rng.choice(TITLE_TAILS)}"
    key = f"{sheet.label}/rw{n}"
    return Doc(
        key=key,
        label=sheet.label,
        base=sheet.label,
        kind="rewrite",
        title=title,
        text=text,
        published=published,
        ai_generated=True,
        extraction=known_extraction(key, sheet.label, used, terms),
    )


REWRITES_PER_STORY = 6


def rewrite_set() -> list[Doc]:
    """Seed documents plus ``REWRITES_PER_STORY`` rewrites per story with enough facts,
    dated within three days after the story's first document, in publication order."""
    seeds = seed_docs()
    first: dict[str, datetime] = {}
    for d in seeds:
        first.setdefault(d.label, d.published)
    rng = random.Random(RNG_SEED + 1)
    docs = list(seeds)
    for sheet in SHEETS:
        for n in range(REWRITES_PER_STORY):
            at = first[sheet.label] + timedelta(minutes=rng.randint(30, 3 * 24 * 60))
            docs.append(rewrite(sheet, n, at))
    return sorted(docs, key=lambda d: (d.published, d.key))


# ---------------------------------------------------------------------------- scoring


def pairwise(labels: Sequence[str], predicted: Sequence[int]) -> tuple[float, float, int, int]:
    """Pairwise precision and recall of a clustering against true labels."""
    tp = fp = fn = 0
    n = len(labels)
    for i in range(n):
        for j in range(i + 1, n):
            same_true = labels[i] == labels[j]
            same_pred = predicted[i] == predicted[j]
            if same_pred and same_true:
                tp += 1
            elif same_pred:
                fp += 1
            elif same_true:
                fn += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, fp, fn


# ------------------------------------------------------- running a set through the store


def insert_doc(session: Any, source_id: int, doc: Doc) -> int:
    """The article row the pipeline would insert for ``doc``; returns its id."""
    from monitor.dedup import content_hash
    from monitor.models import Article

    row = Article(
        source_id=source_id,
        entry_key=doc.key,
        url=f"https://eval.test/{doc.key}",
        title=doc.title,
        text=doc.text,
        first_seen_at=doc.published,
        sort_at=doc.published,
        published_at=doc.published,
        ai_generated=doc.ai_generated,
        content_hash=content_hash(doc.text),
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return int(row.id)


def ingest(
    session: Any, source_id: int, doc: Doc, extraction: Extraction, *, window: timedelta
) -> Placement:
    """What the pipeline does with one new article: insert it and its mentions, place it,
    mark its new facts and insert them with the story id. Returns the Placement."""
    from monitor.app.placement import mark_new_facts, place_article
    from monitor.models import FactRow, Mention

    aid = insert_doc(session, source_id, doc)
    for t in extraction.terms:
        session.add(
            Mention(article_id=aid, kind="term", name=t.family, value=t.term, entity=t.entity,
                    quote=t.quote, span_start=t.span[0], span_end=t.span[1])
        )  # fmt: skip
    for p in extraction.topics:
        session.add(
            Mention(article_id=aid, kind="topic", name=p.topic, value=p.phrase, entity=p.entity,
                    quote=p.quote, span_start=p.span[0], span_end=p.span[1])
        )  # fmt: skip
    session.flush()
    placement = place_article(session, aid, extraction, now=doc.published, window=window)
    new = mark_new_facts(session, placement.story_id, extraction.facts)
    for f, is_new in zip(extraction.facts, new, strict=True):
        session.add(
            FactRow(
                article_id=aid, story_id=placement.story_id, entity=f.entity, metric=f.metric,
                value=f.value, unit=f.unit, currency=f.currency, period=f.period,
                alt_value=f.alt_value, alt_currency=f.alt_currency, surface=f.surface,
                quote=f.quote, span_start=f.span[0], span_end=f.span[1],
                confidence=f.confidence, new_to_story=is_new, created_at=doc.published,
            )
        )  # fmt: skip
    session.flush()
    return placement
