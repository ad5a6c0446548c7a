"""Find quantities in text: money, percentages, multiples, counts, qualitative growth.

A quantity is only a number with its unit, normalised, and the exact surface text;
who it belongs to and what it measures are decided later (``entities``, ``metrics``).

Forms handled (issue 5): ``$53 billion``, ``$53B``, ``US$53bn``, ``RMB 380 billion``,
``RMB120 billion ($16.5 billion)`` (one amount in two currencies, linked),
``CNY80 billion``, ``380 billion yuan``, ``53.000 millones de dólares`` (Spanish:
dot groups thousands, comma is the decimal mark), ``34%``, ``2 percentage points``,
``85-90%``, ``15x``, ``P/E of 19.2``, ``180k``, ``10 million downloads``,
``over 200 models``, ``triple-digit growth``, with approximations (``over``,
``nearly``, ``roughly``, ``up to``, ``$100B+``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from monitor.extract.ratios import find_ratios

# "1,700", and "1’700" as Swiss and some Asian outlets group thousands.
_NUM = r"\d{1,3}(?:[,’']\d{3})+(?![0-9])(?:\.\d+)?|\d+(?:\.\d+)?"
# Spanish grouping: "53.000" is fifty-three thousand, "4,35" is a decimal.
_NUM_ES = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"

_SCALES = {
    "trillion": 1e12, "tn": 1e12, "t": 1e12,
    "billion": 1e9, "bn": 1e9, "b": 1e9, "bln": 1e9,
    "million": 1e6, "mn": 1e6, "mln": 1e6, "m": 1e6, "mm": 1e6,
    "thousand": 1e3, "k": 1e3,
}  # fmt: skip
# Spanish scales: "millones" is 1e6, "mil millones" 1e9 and "billones" 1e12 (the
# long scale: a Spanish "billón" is a million million).
_SCALES_ES = {"mil millones": 1e9, "millones": 1e6, "millón": 1e6, "billones": 1e12, "mil": 1e3}

# The forms match case-insensitively, and to Python's re that makes "ı" (dotless i) an
# "i", "ſ" (long s) an "s" and "İ" an "i": a matched word is read through the same folding
# before it is looked up, or "bıllıon" would match the pattern and miss the table.
_FOLD = str.maketrans({"ı": "i", "ſ": "s", "\u0307": None})


def _fold(word: str) -> str:
    return word.lower().translate(_FOLD)


_PREFIX_CURRENCY = {
    "us$": "USD", "usd": "USD", "$": "USD", "hk$": "HKD", "hkd": "HKD", "rmb": "CNY",
    "cny": "CNY", "¥": "CNY", "￥": "CNY", "€": "EUR", "eur": "EUR", "£": "GBP", "gbp": "GBP",
    "nt$": "TWD", "a$": "AUD", "au$": "AUD", "c$": "CAD", "ca$": "CAD", "s$": "SGD",
    "sg$": "SGD", "nz$": "NZD", "₩": "KRW", "krw": "KRW", "jpy": "JPY", "twd": "TWD",
    "aud": "AUD", "cad": "CAD", "sgd": "SGD", "inr": "INR", "chf": "CHF",
}  # fmt: skip
# Another country's dollar before "$" ("NT$1.2 trillion" is no US dollar), longest first.
_DOLLAR_PREFIXES = ("U.S.$", "US$", "HK$", "NT$", "AU$", "CA$", "SG$", "NZ$", "A$", "C$", "S$")
_SUFFIX_CURRENCY = {
    "yuan": "CNY", "renminbi": "CNY", "rmb": "CNY", "cny": "CNY", "dollars": "USD",
    "us dollars": "USD", "u.s. dollars": "USD", "usd": "USD", "euros": "EUR", "eur": "EUR",
    "hong kong dollars": "HKD", "dólares": "USD", "dolares": "USD", "yuanes": "CNY",
    "new taiwan dollars": "TWD", "taiwan dollars": "TWD", "australian dollars": "AUD",
    "canadian dollars": "CAD", "singapore dollars": "SGD", "swiss francs": "CHF",
    "yen": "JPY", "won": "KRW", "rupees": "INR", "jpy": "JPY", "krw": "KRW", "twd": "TWD",
    "aud": "AUD", "cad": "CAD", "sgd": "SGD", "inr": "INR", "chf": "CHF",
}  # fmt: skip

_APPROX = {
    "over": "over", "more than": "over", "above": "over", "in excess of": "over",
    "upwards of": "over", "at least": "at least", "nearly": "nearly", "almost": "nearly",
    "close to": "nearly", "just under": "nearly", "roughly": "roughly", "around": "roughly",
    "about": "roughly", "approximately": "roughly", "some": "roughly", "~": "roughly",
    "an estimated": "roughly", "up to": "up to", "as much as": "up to", "under": "under",
    "less than": "under", "below": "under", "más de": "over", "casi": "nearly",
    "alrededor de": "roughly", "unos": "roughly",
}  # fmt: skip

_DIGIT_GROWTH = {
    "single": (1.0, 9.0), "double": (10.0, 99.0), "triple": (100.0, 999.0),
    "quadruple": (1000.0, 9999.0),
}  # fmt: skip

# "$53 billions" is written too (the plural first: the alternation takes the first that fits)
_SCALE_RE = (
    r"trillions|billions|millions|trillion|billion|million|thousand|bln|mln|bn|tn|mn|mm"
    r"|[BbMmKkTt]"
)
_CODE_RE = r"USD|HKD|RMB|CNY|EUR|GBP|JPY|KRW|TWD|AUD|CAD|SGD|INR|CHF"
_PREFIX_RE = rf"US\$|U\.S\.\$|HK\$|NT\$|AU\$|CA\$|SG\$|NZ\$|A\$|C\$|S\$|\$|{_CODE_RE}|[¥￥€£₩]"
# (the forms are VERBOSE: a blank between words is written [ \xa0], or it is ignored)
_SUFFIX_RE = (
    r"hong[ \xa0]kong[ \xa0]dollars|(?:new[ \xa0])?taiwan[ \xa0]dollars"
    r"|(?:australian|canadian|singapore|u\.s\.|us)[ \xa0]dollars|dollars|swiss[ \xa0]francs"
    rf"|yuan|renminbi|euros|yen|won|rupees|{_CODE_RE}"
)

# One pattern per form. A range's dash is any of the hyphen, en, figure and em dashes and
# the minus sign ("5‒10%" gave 10%). The blanks inside a quantity are spaces (or no-break
# spaces), never line breaks: a number ending one line and a "%" opening the next are
# two things, and a quantity must not straddle two sentences. Each form is tried only
# where a cheap look at the text says it can match (see ``_match_at``): an
# alternation tried at every character costs ten times more on an 800-word article
# (issue 5, point 8).
_FORMS: dict[str, str] = {
    "es": rf"""(?P<es>(?:(?P<es_prefix>US\$|\$)[ \xa0]?)?(?P<es_num>{_NUM_ES})[ \xa0]
        (?P<es_scale>mil[ \xa0]millones|millones|millón|billones)
        (?:[ \xa0](?:de[ \xa0])?(?P<es_cur>dólares|dolares|yuanes|euros))?)""",
    "money": rf"""(?P<money>(?P<m_prefix>{_PREFIX_RE})[ \xa0]?(?P<m_num>{_NUM})
        (?:[ \xa0]?[-–‒—−][ \xa0]?(?:{_PREFIX_RE})?[ \xa0]?(?P<m_high>{_NUM}))?
        (?:[ \xa0]?(?P<m_scale>{_SCALE_RE})\b)?(?P<m_plus>\+)?)""",
    "pct": rf"""(?P<pct>(?P<p_num>{_NUM})[ \xa0]?(?:%|percent\b|per[ \xa0]cent\b)?
        [ \xa0]?(?:[-–‒—−]|to)[ \xa0]?(?P<p_high>{_NUM})[ \xa0]?
        (?P<p_unit>%|percent\b|per[ \xa0]cent\b|por[ \xa0]ciento\b)
      | (?P<p_num1>{_NUM})[ \xa0]?(?P<p_unit1>%|percent\b|per[ \xa0]cent\b|por[ \xa0]ciento\b
          |percentage[ \xa0]points?\b|pp\b|ppts?\b|basis[ \xa0]points?\b|bps\b))""",
    # "15x", and "18 times forward earnings" (a bare "3 times" is no multiple)
    "mult": rf"""(?P<mult>(?P<x_num>{_NUM})(?:[ \xa0]?[x×](?![A-Za-z0-9])
        |[ \xa0]times(?=[ \xa0](?:(?:forward|trailing|expected|projected|estimated|current
        |next[ \xa0-]year'?s?|this[ \xa0]year'?s?|its)[ \xa0])*(?:earnings|sales|revenue|book
        |ebitda|profits?|free[ \xa0]cash[ \xa0]flow|cash[ \xa0]flow)\b)))""",
    # "380 billion yuan", "380bn yuan", "90-100 billion yuan"
    "suffix": rf"""(?P<suffix>(?P<s_num>{_NUM})
        (?:[ \xa0]?[-–‒—−][ \xa0]?(?P<s_high>{_NUM}))?[ \xa0]?
        (?:(?P<s_scale>trillions?|billions?|millions?|thousand|bln|mln|bn|tn|mn)[ \xa0])?
        (?P<s_cur>{_SUFFIX_RE})\b)""",
    "growth": r"""(?P<growth>(?P<g_digits>single|double|triple|quadruple)[- \xa0]digits?
        (?:[ \xa0](?P<g_noun>growth|rates?|increases?|gains?|jumps?|surges?))?)""",
    "count": rf"""(?P<count>(?P<c_num>{_NUM})
        (?:[ \xa0-]?(?P<c_scale>trillion|billion|million|thousand|[kK])\b)(?P<c_plus>\+)?)""",
    # "120 countries", "18 stated allies", "10,000 Nvidia A100 chips", "50,000 Hopper
    # GPUs", "1,700 of the latest AI chips": up to three modifiers (names, codes,
    # adjectives) between the number and its plural noun.
    "nouncount": rf"""(?P<nouncount>(?P<n_num>{_NUM})[ \xa0]
        (?:of[ \xa0](?:the|its|their)[ \xa0])?
        (?-i:(?:[A-Z][A-Za-z0-9.-]*|[0-9]+[A-Za-z][A-Za-z0-9-]*|[a-z]+(?:ed|ing|est|al|ic|ive|ese))
        [ \xa0]){{0,3}}
        (?=(?P<n_noun>(?-i:[a-z][a-z-]*[a-z]s|[A-Z][A-Za-z]*[A-Z]s))\b))""",
    # "800 TFLOPS", "3.2 TB/s", "3.8 gigawatts": compute and power, in their own units.
    "phys": rf"""(?P<phys>(?P<u_num>{_NUM})[ \xa0]?
        (?P<u_unit>gigawatts?|megawatts?|teraflops|petaflops|GW|MW|TFLOPS|PFLOPS|TB/s|GB/s)
        (?![A-Za-z]))""",
    "ratio": r"""(?P<ratio>(?<![A-Za-z])(?:P/E|P/S|price-to-earnings|price-to-sales|PE|EV/EBITDA)
        (?:[ \xa0]\(P/[ES]\))?(?:[ \xa0]ratio|[ \xa0]multiple)?
        (?:[ \xa0](?:of|at|is|was|near|around))?[ \xa0]
        (?P<r_num>\d+(?:\.\d+)?)(?!\.?\d|[ \xa0]?[%xX×]))""",
}
_FORMS["score"] = rf"(?P<score>(?P<sc_num>{_NUM})(?:[ \xa0]points?\b)?)(?![0-9%.,]?[0-9%])"
_FORM = {k: re.compile(v, re.VERBOSE | re.IGNORECASE) for k, v in _FORMS.items()}
_SCORE_CUES = ("score of ", "scored ", "scoring ", "score of\xa0")

_CODES = frozenset(_CODE_RE.split("|")) | {"rmb", "usd", "cny", "Rmb"}
# The last character of every prefix ``_prefix_start`` accepts.
_PREFIX_LAST = frozenset("$¥￥€£₩") | {code[-1] for code in _CODES}
# What follows a digit run says which forms can start there; one match decides. It is
# looked at by the scan for digit runs itself (a lookahead whose group names the
# kind), which saves a call per run (issue 5, point 8).
_GATE = r"""[ \xa0]?(?:(?P<pct>%|per|por|pp|basis|bps|to[ \xa0])
    | (?P<dash>[-–‒—−])
    | (?P<mult>[x×X](?![A-Za-z0-9])|times[ \xa0])
    | (?P<scale>[kK]\b|thousand|million|billion|trillion|bn\b|tn\b|mn\b|bln\b|mln\b)
    | (?P<cur>yuan|dollars|rmb|cny|usd|euros|eur\b|renminbi|hong[ \xa0]kong|u\.?s\.?[ \xa0]dollars
      |yen\b|rupees|(?:new[ \xa0])?taiwan|australian|canadian|singapore|swiss
      |(?:jpy|krw|twd|aud|cad|sgd|inr|chf)\b)
    | (?P<es>mil[ \xa0]millones|millones|millón|billones)
    | (?P<phys>gigawatt|megawatt|teraflop|petaflop|gw\b|mw\b|tflops|pflops|tb/s|gb/s)
    | (?P<word>[a-z]|\d+[a-z]))"""
_DIGIT_RUN = re.compile(r"\d[\d.,’']*(?:(?=(?ix:" + _GATE + ")))?")
_GATED: dict[str, tuple[str, ...]] = {
    "pct": ("pct", "count"),
    "dash": ("pct", "count", "suffix"),  # "85-90%", "3-billion-parameter", "90-100 billion yuan"
    "mult": ("mult",),
    "scale": ("suffix", "count"),
    "cur": ("suffix", "nouncount"),  # "3 Australian banks"
    "es": ("es",),
    "phys": ("phys",),
    "word": ("nouncount",),
}
_GATED_FORMS = {gate: tuple(_FORM[kind] for kind in kinds) for gate, kinds in _GATED.items()}
_GROWTH_HEAD = re.compile(r"(?:single|double|triple|quadruple)[- \xa0]$", re.IGNORECASE)
_RATIO_TAIL = re.compile(
    r"(?<![A-Za-z])(?:P/E|P/S|price-to-earnings|price-to-sales|PE|EV/EBITDA)"
    r"(?:[ \xa0]\(P/[ES]\))?(?:[ \xa0]ratio|[ \xa0]multiple)?"
    r"(?:[ \xa0](?:of|at|is|was|near|around))?[ \xa0]$",
    re.IGNORECASE,
)
_APPROX_WORDS = {tuple(k.lower().split()): v for k, v in _APPROX.items()}
_APPROX_LAST = frozenset(words[-1] for words in _APPROX_WORDS)
# Between two amounts in different currencies, these say "the same amount":
# "RMB120 billion ($16.5 billion)", "RMB 380 billion, roughly $53 billion,",
# "380 billion yuan, or about $53 billion".
_ALT_OPEN = re.compile(
    r"\s*\(\s*(?:or\s+|about\s+|roughly\s+|approximately\s+|around\s+|~)?"
    r"|\s*,?\s*(?:or\s+)?(?:about|roughly|approximately|around|some|nearly|or"
    r"|equivalent\sto)\s+",
    re.IGNORECASE,
)
# Words after a bare number that make it a period, not a count ("3 years").
_NOT_COUNT_NOUNS = frozenset(
    {"years", "quarters", "months", "weeks", "days", "hours", "times", "points", "percent",
     "minutes", "seconds", "decades", "consecutive", "straight", "bps"}
)  # fmt: skip


class Quantity(NamedTuple):
    value: float
    unit: str  # money | percent | pp | multiple | count | growth
    start: int
    end: int
    surface: str
    currency: str | None = None
    approx: str | None = None
    value_high: float | None = None
    alt_value: float | None = None
    alt_currency: str | None = None
    parenthesised: bool = False  # written inside "( )": a comparison or a conversion
    implicit_multiple: bool = False  # "P/E of 19.2": the "x" was left out
    second_currency: bool = False  # the same amount as the previous quantity, converted


# No amount, count or rate news reports reaches a quintillion: a number that does (four
# hundred digits and "billion" make infinity) is no figure, and sums, ratios and charts of
# it would overflow. NaN fails the comparison too.
MAX_AMOUNT = 1e18


def find_quantities(text: str, start: int = 0, end: int | None = None) -> list[Quantity]:
    """Every quantity in ``text[start:end]``, with offsets into ``text``, in order.

    Every form but qualitative growth contains a digit, so the scan jumps from digit
    run to digit run (a fast C search) and tries a form only where the characters
    around the run allow it.
    """
    stop = len(text) if end is None else end
    found: list[Quantity] = []
    consumed = start  # never below ``start``
    for run in _DIGIT_RUN.finditer(text, start, stop):
        s = run.start()
        if s < consumed:
            continue
        m = _match_at(text, s, run.end(), consumed, stop, run.lastgroup)
        if m is None:
            consumed = run.end()
            continue
        consumed = m.end()
        q = _from_match(m, text)
        if (
            q is not None
            and -MAX_AMOUNT < q.value < MAX_AMOUNT
            and (q.value_high is None or -MAX_AMOUNT < q.value_high < MAX_AMOUNT)
        ):
            found.append(_with_context(q, text, start))
    # The digit runs gave their quantities in order; growth words come after them.
    in_order = True
    at = text.find("igit", start, stop)
    while at != -1:
        head = _GROWTH_HEAD.search(text, max(start, at - 13), at - 1)
        if head is not None:
            m = _FORM["growth"].match(text, head.start(), stop)
            q = _from_match(m, text) if m is not None else None
            if q is not None:
                found.append(_with_context(q, text, start))
                in_order = False
        at = text.find("igit", at + 4, stop)
    for value, s, e in find_ratios(text, start, stop):  # "half the price"
        found.append(_with_context(Quantity(value, "ratio", s, e, text[s:e]), text, start))
        in_order = False
    if not in_order:
        found.sort(key=_start)
    return _link_currencies(_join_ranges(found, text), text)


def _start(q: Quantity) -> int:
    return q.start


# "$60 billion to $65 billion" and "between $60 billion and $65 billion" are one range;
# "from $60 billion to $65 billion" a change. "90 billion to 100 billion yuan" too: the
# first amount's currency is written once, after the second.
_RANGE_GAP = re.compile(r"[ \xa0]+to[ \xa0]+")
_AND_GAP = re.compile(r"[ \xa0]+and[ \xa0]+")
_FROM_BEFORE = re.compile(r"\b(?:from|From)[ \xa0]+(?:about|around|roughly|some|nearly)?[ \xa0]*$")
_BETWEEN_BEFORE = re.compile(r"\b[Bb]etween[ \xa0]+(?:about|around|roughly|some)?[ \xa0]*$")


def _join_ranges(found: list[Quantity], text: str) -> list[Quantity]:
    out: list[Quantity] = []
    for q in found:
        prev = out[-1] if out else None
        if (
            prev is not None
            and q.unit == "money"
            and prev.value_high is None
            and prev.value < q.value
            and (
                (prev.unit == "money" and prev.currency == q.currency)
                # "90 billion" (a scaled count) to "100 billion yuan"; not "5 models"
                or (prev.unit == "count" and _scaled(prev.surface) and q.surface[0].isdigit())
            )
            and _is_range_gap(text, prev, q)
        ):
            out[-1] = prev._replace(
                unit="money",
                currency=q.currency,
                end=q.end,
                surface=text[prev.start : q.end],
                value_high=q.value,
            )
            continue
        out.append(q)
    return out


def _scaled(surface: str) -> bool:
    """Whether a count's surface ends with a scale word ("90 billion", "90bn")."""
    last = surface.rsplit(None, 1)[-1].lstrip("0123456789.,").lower()
    return len(last) > 1 and last in _SCALES


def _is_range_gap(text: str, low: Quantity, high: Quantity) -> bool:
    before = text[max(0, low.start - 25) : low.start]
    if _RANGE_GAP.fullmatch(text, low.end, high.start):
        return not _FROM_BEFORE.search(before)
    return bool(_AND_GAP.fullmatch(text, low.end, high.start) and _BETWEEN_BEFORE.search(before))


def _match_at(
    text: str, s: int, e: int, floor: int, stop: int, gate: str | None
) -> re.Match[str] | None:
    """The quantity that the digit run ``text[s:e]`` belongs to, if any.

    ``gate``: what the characters after the run allow (a group of ``_GATE``), or None.
    """
    spanish = gate == "es"
    prefix = _prefix_start(text, s, floor)
    if prefix is not None:
        m = (_FORM["es"] if spanish else _FORM["money"]).match(text, prefix, stop)
        if m is not None:
            return m
    lo = s - 40 if s - 40 > floor else floor
    window = text[lo:s]
    if "P/" in window or "PE" in window or "rice-to" in window:
        ratio = _RATIO_TAIL.search(text, lo, s)
        if ratio is not None:
            m = _FORM["ratio"].match(text, ratio.start(), stop)
            if m is not None:
                return m
    if text.endswith(_SCORE_CUES, lo, s):
        m = _FORM["score"].match(text, s, stop)  # "a score of 96.2 on MATH-500"
        if m is not None:
            return m
    if gate is None:
        return None
    for form in _GATED_FORMS[gate]:
        m = form.match(text, s, stop)
        if m is not None:
            return m
    return None


def _prefix_start(text: str, s: int, floor: int) -> int | None:
    """Where a currency written before the number starts: "$", "US$", "RMB ", "€"."""
    j = s - 1 if s > floor and text[s - 1] == " " else s
    if j <= floor:
        return None
    c = text[j - 1]
    if c not in _PREFIX_LAST:
        return None  # most numbers follow a word such as "grew" or "of"
    if c == "$":
        if j - 2 < floor or not (text[j - 2].isalpha() or text[j - 2] == "."):
            return j - 1  # most dollars: " $5"
        for p in _DOLLAR_PREFIXES:
            k = j - len(p)
            if k >= floor and text.startswith(p, k) and (k == floor or not text[k - 1].isalpha()):
                return k
        return None  # "X$5": a dollar, but of no country known here
    if c in "¥￥€£₩":
        return j - 1
    k = j - 3
    if (
        c.isalpha()
        and k >= floor
        and text[k:j] in _CODES
        and (k == floor or not text[k - 1].isalpha())
    ):
        return k
    return None


def _from_match(m: re.Match[str], text: str) -> Quantity | None:
    kind = m.lastgroup
    s, e = m.start(kind or 0), m.end(kind or 0)
    if kind == "es":
        num = _parse_es(m["es_num"])
        es_scale = _SCALES_ES[" ".join(_fold(m["es_scale"]).split())]
        cur = m["es_cur"] or m["es_prefix"]
        currency = None
        if cur is not None:
            currency = "USD" if cur.startswith(("US$", "$")) else _SUFFIX_CURRENCY[_fold(cur)]
        if currency is None:
            return Quantity(num * es_scale, "count", s, e, text[s:e])
        return Quantity(num * es_scale, "money", s, e, text[s:e], currency)
    if kind == "money":
        scale = _scale(m["m_scale"])
        if scale is None:
            return None
        value = _parse(m["m_num"]) * scale
        high = _parse(m["m_high"]) * scale if m["m_high"] else None
        if high is not None and high < value:  # "$10-5 billion": the range, in order
            value, high = high, value
        currency = _PREFIX_CURRENCY[_fold(m["m_prefix"]).replace("u.s.$", "us$")]
        approx = "over" if m["m_plus"] else None
        return Quantity(value, "money", s, e, text[s:e], currency, approx, high)
    if kind == "pct":
        unit_word = _fold(m["p_unit"] or m["p_unit1"])
        if unit_word.startswith(("basis", "bps")):
            return Quantity(_parse(m["p_num1"]) / 100, "pp", s, e, text[s:e])
        unit = "pp" if unit_word.startswith(("percentage", "pp", "ppt")) else "percent"
        if m["p_num"] is not None:
            low, high = sorted((_parse(m["p_num"]), _parse(m["p_high"])))
            return Quantity(low, unit, s, e, text[s:e], None, None, high)
        return Quantity(_parse(m["p_num1"]), unit, s, e, text[s:e])
    if kind == "mult":
        return Quantity(_parse(m["x_num"]), "multiple", s, e, text[s:e])
    if kind == "ratio":
        rs, re_ = m.start("r_num"), m.end("r_num")
        return Quantity(
            _parse(m["r_num"]), "multiple", rs, re_, text[rs:re_], implicit_multiple=True
        )
    if kind == "suffix":
        currency = _SUFFIX_CURRENCY[" ".join(_fold(m["s_cur"]).split())]
        if currency == "KRW" and not m["s_scale"] and m["s_cur"].lower() == "won":
            return None  # "won" is a currency after a scale word only; else the verb
        scale = _scale(m["s_scale"]) or 1.0
        value = _parse(m["s_num"]) * scale
        high = _parse(m["s_high"]) * scale if m["s_high"] else None
        if high is not None and high < value:
            value, high = high, value
        return Quantity(value, "money", s, e, text[s:e], currency, None, high)
    if kind == "growth":
        low, high = _DIGIT_GROWTH[_fold(m["g_digits"])]
        return Quantity(low, "growth", s, e, text[s:e], None, None, high)
    if kind == "count":
        if _is_bad_count_context(text, s):
            return None
        scale = _scale(m["c_scale"]) or 1.0
        approx = "over" if m["c_plus"] else None
        return Quantity(_parse(m["c_num"]) * scale, "count", s, e, text[s:e], None, approx)
    if kind == "nouncount":
        noun = _fold(m["n_noun"])
        if _is_bad_count_context(text, s) or _looks_like_year(m):
            return None
        ns = m.end("n_noun")
        if noun == "points" and m.end("n_num") + 1 == m.start("n_noun"):
            # "scored 87.2 points" (a benchmark); "percentage points" is another form
            return Quantity(_parse(m["n_num"]), "points", s, ns, text[s:ns])
        if noun in _NOT_COUNT_NOUNS:
            return None
        return Quantity(_parse(m["n_num"]), "count", s, ns, text[s:ns])
    if kind == "score":
        return Quantity(_parse(m["sc_num"]), "points", s, e, text[s:e])
    if kind == "phys":
        unit = _PHYS_UNITS.get(_fold(m["u_unit"]).rstrip("s"), m["u_unit"])
        return Quantity(_parse(m["u_num"]), unit, s, e, text[s:e])
    return None


_PHYS_UNITS = {"gigawatt": "GW", "megawatt": "MW", "gw": "GW", "mw": "MW", "teraflop": "TFLOPS",
               "petaflop": "PFLOPS", "tflop": "TFLOPS", "pflop": "PFLOPS", "tb/": "TB/s",
               "gb/": "GB/s"}  # fmt: skip


def _is_bad_count_context(text: str, s: int) -> bool:
    """A number glued to a name or a bracket is a model version or a citation."""
    before = text[s - 1] if s > 0 else " "
    return before.isalnum() or before in "[-/.#$"  # "X$5 billion": money, of no currency known


def _looks_like_year(m: re.Match[str]) -> bool:
    raw = m["n_num"]
    return len(raw) == 4 and raw.isdigit() and 1900 <= int(raw) <= 2100


def _scale(word: str | None) -> float | None:
    if word is None:
        return 1.0
    lowered = _fold(word)
    if len(word) == 1 and lowered not in ("b", "m", "k", "t"):
        return None
    return _SCALES.get(lowered) or _SCALES.get(lowered[:-1])  # "billions"


def _parse(raw: str) -> float:
    return float(raw.replace(",", "").replace("’", "").replace("'", ""))


def _parse_es(raw: str) -> float:
    return float(raw.replace(".", "").replace(",", "."))


def _with_context(q: Quantity, text: str, floor: int) -> Quantity:
    """Add the approximation word before the number and note enclosing parentheses."""
    approx = q.approx
    start = q.start
    if approx is None:
        head = text[start - 24 if start - 24 > floor else floor : start]
        if head.endswith("~"):
            approx = "roughly"
        else:
            words = head.lower().replace("(", " ").split()
            # Every approximation phrase ends in one of a few words: most numbers
            # are decided by that one look (issue 5, point 8).
            if words and words[-1] in _APPROX_LAST:
                for n in (3, 2, 1):
                    approx = _APPROX_WORDS.get(tuple(words[-n:])) if len(words) >= n else None
                    if approx is not None:
                        break
    lo = start - 60 if start - 60 > floor else floor
    paren = text.find("(", lo, start) != -1 and _inside_parentheses(text, start, q.end, floor)
    if approx == q.approx and not paren:
        return q
    # What ``q._replace(approx=approx, parenthesised=paren)`` gives, at a fifth of
    # the cost (fields 6 and 10).
    return Quantity(*q[:6], approx, *q[7:10], paren, *q[11:])


def _inside_parentheses(text: str, start: int, end: int, floor: int) -> bool:
    """Is the number inside "( ... )" opened at most 60 characters before it?"""
    lo = max(floor, start - 60)
    opened = text.rfind("(", lo, start)
    if opened == -1 or text.find(")", opened, start) != -1:
        return False
    return text.find(")", end, end + 60) != -1


def _link_currencies(found: list[Quantity], text: str) -> list[Quantity]:
    """Pair ``RMB120 billion ($16.5 billion)``: the same amount in two currencies."""
    out = list(found)
    for i in range(len(out) - 1):
        a, b = out[i], out[i + 1]
        if a.unit != "money" or b.unit != "money" or a.currency == b.currency:
            continue
        if a.second_currency or not _ALT_OPEN.fullmatch(text[a.end : b.start]):
            continue
        out[i] = a._replace(alt_value=b.value, alt_currency=b.currency)
        out[i + 1] = b._replace(alt_value=a.value, alt_currency=a.currency, second_currency=True)
    return out
