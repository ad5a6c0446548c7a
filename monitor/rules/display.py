"""How values and names read in alert titles: "$53 billion", "RMB 380 billion", "36%", "18x"."""

from __future__ import annotations

from monitor.values import Vocabulary

_CURRENCY_PREFIX = {"USD": "$", "CNY": "RMB ", "EUR": "€", "GBP": "£", "HKD": "HK$", "JPY": "¥"}
_SCALES = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))


def _number(x: float) -> str:
    text = f"{x:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_value(value: float | None, unit: str | None, currency: str | None = None) -> str:
    if value is None:
        return "none"
    if unit in ("percent", "growth"):
        return f"{_number(value)}%"
    if unit == "pp":
        return f"{_number(value)} pp"
    if unit == "multiple":
        return f"{_number(value)}x"
    scaled = _number(value)
    for size, word in _SCALES:
        if abs(value) >= size:
            scaled = f"{_number(value / size)} {word}"
            break
    if unit == "money":
        if currency in _CURRENCY_PREFIX:
            return f"{_CURRENCY_PREFIX[currency]}{scaled}"
        return f"{scaled} {currency}" if currency else scaled
    return scaled


def format_change(old: float, new: float, unit: str | None = None) -> str:
    """The size of a move: in points for percentages (36% -> 33% is -3 pp), else in %."""
    if unit in ("percent", "growth", "pp"):
        return f" ({_signed(new - old)} pp)"
    if old == 0:
        return ""
    pct = (new - old) / abs(old) * 100
    return f" ({pct:+.1f}%)"


def _signed(x: float) -> str:
    return ("+" if x >= 0 else "-") + _number(abs(x))


class Names:
    """Display names from the vocabulary: the first of an entity's names, a metric's label."""

    def __init__(self, vocab: Vocabulary) -> None:
        self._entities = {e.id: e.names[0] for e in vocab.entities if e.names}
        self._metrics = {m.id: (m.label or m.id.replace("_", " ")) for m in vocab.metrics}
        self._units = {m.id: m.kind for m in vocab.metrics}
        self._topics = {t.id: t.id.replace("_", " ") for t in vocab.topics}
        self._families = {t.id: t.display for t in vocab.terms}

    def entity(self, entity_id: str | None) -> str:
        if entity_id is None:
            return "any entity"
        return self._entities.get(entity_id, entity_id)

    def metric(self, metric_id: str | None) -> str:
        if metric_id is None:
            return ""
        return self._metrics.get(metric_id, metric_id.replace("_", " "))

    def metric_kind(self, metric_id: str) -> str | None:
        return self._units.get(metric_id)

    def family(self, family_id: str) -> str:
        """What one name of a term family is: "Qwen model"."""
        return self._families.get(family_id) or family_id.replace("_", " ")

    def topic(self, topic_id: str | None) -> str:
        if topic_id is None:
            return ""
        return self._topics.get(topic_id, topic_id.replace("_", " "))
