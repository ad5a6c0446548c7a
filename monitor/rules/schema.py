"""The rule-file schema: what an analyst may write in ``rules/*.yaml``.

Every model forbids unknown keys so that a typo ("confirm: {storys: 2}") is an error with
a "did you mean" rather than a silently ignored setting (ElastAlert2 accepts unknown keys
and the rule quietly does something else). ``when`` is a discriminated union keyed by the
single key naming the rule kind: ``when: {change: {...}}``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

from monitor.rules.amounts import Amount, parse_amount, parse_duration

Id = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", min_length=1, max_length=80)
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
AmountField = Annotated[Amount, BeforeValidator(parse_amount)]
Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


# ------------------------------------------------------------------ vocabulary


class EntitySpec(Strict):
    names: list[Text] = Field(min_length=1)


class MetricSpec(Strict):
    kind: Literal["money", "percent", "multiple", "count", "growth"]
    label: str = ""
    cues: list[Text] = Field(default_factory=list)
    exclude: list[Text] = Field(default_factory=list)


class TermSpec(Strict):
    pattern: str = Field(min_length=1, max_length=500)
    label: str = ""  # "Qwen model": what alerts and digests call one of its names


class TopicSpec(Strict):
    phrases: list[Text] = Field(min_length=1)


# ------------------------------------------------------------------ rule kinds


class SeriesSpec(Strict):
    """Which facts form one series: an entity's metric, optionally narrowed."""

    entity: Id | None = None  # None: every entity, each its own series
    metric: Id
    where: dict[Id, Text] = Field(default_factory=dict)  # qualifiers, e.g. {scope: china}
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    period: Text | None = None  # only facts whose period mentions this text
    per_period: bool = False  # a separate series for each period
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)


class ChangeSpec(SeriesSpec):
    by: AmountField
    direction: Literal["up", "down", "any"] = "any"
    first: bool = False  # also alert when the first value is confirmed


class ThresholdSpec(SeriesSpec):
    above: float | None = None
    below: float | None = None
    hysteresis: AmountField = Amount(0.0, relative=False)

    @model_validator(mode="after")
    def _one_level(self) -> ThresholdSpec:
        if self.above is None and self.below is None:
            raise ValueError("give 'above', 'below' or both")
        if self.above is not None and self.below is not None and self.below >= self.above:
            raise ValueError("'below' must be lower than 'above'")
        return self


class ConflictSpec(SeriesSpec):
    tolerance: AmountField = Amount(0.01, relative=True)
    within: Duration = timedelta(days=30)
    compare: Literal["story", "window"] = "story"  # sources on one story, or all in window


def _shorthand(field: str) -> Any:
    def expand(value: Any) -> Any:
        return {field: value} if isinstance(value, str) else value

    return BeforeValidator(expand)


class NewTermSpec(Strict):
    family: Id
    entity: Id | None = None


class TopicRuleSpec(Strict):
    topic: Id
    entity: Id | None = None
    stories: int = Field(default=1, ge=1, le=1000)
    within: Duration = timedelta(days=7)


class CountSpec(Strict):
    entity: Id | None = None
    topic: Id | None = None

    @model_validator(mode="after")
    def _subject(self) -> CountSpec:
        if self.entity is None and self.topic is None:
            raise ValueError("give 'entity', 'topic' or both")
        return self


class FrequencySpec(CountSpec):
    stories: int = Field(ge=1, le=100000)
    within: Duration = timedelta(days=1)


class SpikeSpec(CountSpec):
    within: Duration = timedelta(days=1)
    baseline: Duration = timedelta(days=14)
    factor: float = Field(default=3.0, gt=1.0, le=1000.0)
    min_stories: int = Field(default=3, ge=1, le=100000)


class StaleSpec(Strict):
    source: Text | None = None  # a source name from sources.yaml, or "*" for every source
    entity: Id | None = None
    metric: Id | None = None  # with entity: that entity's metric
    after: Duration | None = None
    gap_factor: float | None = Field(default=None, gt=1.0, le=1000.0)

    @model_validator(mode="after")
    def _target(self) -> StaleSpec:
        if (self.source is None) == (self.entity is None):
            raise ValueError("give either 'source' or 'entity' (with an optional 'metric')")
        if self.metric is not None and self.entity is None:
            raise ValueError("'metric' needs an 'entity'")
        if self.after is None and self.gap_factor is None:
            raise ValueError("give 'after', 'gap_factor' or both")
        if self.gap_factor is not None and self.source is None:
            raise ValueError("'gap_factor' applies to sources only")
        return self


class ChangeWhen(Strict):
    change: ChangeSpec


class ThresholdWhen(Strict):
    threshold: ThresholdSpec


class ConflictWhen(Strict):
    conflict: ConflictSpec


class NewTermWhen(Strict):
    new_term: Annotated[NewTermSpec, _shorthand("family")]


class TopicWhen(Strict):
    topic: Annotated[TopicRuleSpec, _shorthand("topic")]


class FrequencyWhen(Strict):
    frequency: FrequencySpec


class SpikeWhen(Strict):
    spike: SpikeSpec


class StaleWhen(Strict):
    stale: StaleSpec


# kind -> (union tag, model). Tags are capitalised so that located error paths can drop
# them: they are pydantic's, not keys the analyst wrote.
KINDS: dict[str, tuple[str, type[Strict]]] = {
    "change": ("Change", ChangeWhen),
    "threshold": ("Threshold", ThresholdWhen),
    "conflict": ("Conflict", ConflictWhen),
    "new_term": ("NewTerm", NewTermWhen),
    "topic": ("Topic", TopicWhen),
    "frequency": ("Frequency", FrequencyWhen),
    "spike": ("Spike", SpikeWhen),
    "stale": ("Stale", StaleWhen),
}
UNION_TAGS = frozenset(tag for tag, _ in KINDS.values())
KIND_ERROR = "rule_kind"


def _kind_tag(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        entry = KINDS.get(str(key))
        return entry[0] if entry else None
    for tag, model in KINDS.values():
        if isinstance(value, model):
            return tag
    return None


When = Annotated[
    Annotated[ChangeWhen, Tag("Change")]
    | Annotated[ThresholdWhen, Tag("Threshold")]
    | Annotated[ConflictWhen, Tag("Conflict")]
    | Annotated[NewTermWhen, Tag("NewTerm")]
    | Annotated[TopicWhen, Tag("Topic")]
    | Annotated[FrequencyWhen, Tag("Frequency")]
    | Annotated[SpikeWhen, Tag("Spike")]
    | Annotated[StaleWhen, Tag("Stale")],
    Discriminator(
        _kind_tag,
        custom_error_type=KIND_ERROR,
        custom_error_message="expected exactly one rule kind",
    ),
]

Condition = (
    ChangeSpec
    | ThresholdSpec
    | ConflictSpec
    | NewTermSpec
    | TopicRuleSpec
    | FrequencySpec
    | SpikeSpec
    | StaleSpec
)


class ConfirmSpec(Strict):
    stories: int = Field(default=1, ge=1, le=50)  # independent stories, not copies
    within: Duration = timedelta(days=30)  # support older than this is forgotten
    same_within: AmountField = Amount(0.005, relative=True)  # values this close agree


class TrustSpec(Strict):
    ai: Literal["count", "down_weight", "ignore"] = "down_weight"
    ai_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    non_ai_for: Severity | None = None  # at or above: needs a non-AI source, else downgraded


class RuleSpec(Strict):
    id: Id
    description: str = ""
    when: When
    confirm: ConfirmSpec = ConfirmSpec()
    trust: TrustSpec = TrustSpec()
    severity: Severity = "medium"
    notify: list[Text] = Field(default_factory=list)
    send: Literal["digest", "immediate"] = "digest"
    realert: Duration | None = None  # None: the kind's default (see README)
    enabled: bool = True

    @property
    def kind(self) -> str:
        (name,) = type(self.when).model_fields
        return name

    @property
    def condition(self) -> Condition:
        value: Condition = getattr(self.when, self.kind)
        return value


class RuleFileSpec(Strict):
    entities: dict[Id, EntitySpec] = Field(default_factory=dict)
    metrics: dict[Id, MetricSpec] = Field(default_factory=dict)
    terms: dict[Id, TermSpec] = Field(default_factory=dict)
    topics: dict[Id, TopicSpec] = Field(default_factory=dict)
    rules: list[RuleSpec] = Field(default_factory=list)


# The kind's default realert window when the rule gives none: events that are distinct by
# nature (a new value, a new term, a new conflict) never throttle; running counts do.
DEFAULT_REALERT: dict[str, timedelta] = {
    "change": timedelta(0),
    "threshold": timedelta(0),
    "conflict": timedelta(0),
    "new_term": timedelta(0),
    "topic": timedelta(days=7),
    "frequency": timedelta(days=1),
    "spike": timedelta(days=1),
    "stale": timedelta(0),
}


def realert_of(rule: RuleSpec) -> timedelta:
    if rule.realert is not None:
        return rule.realert
    cond = rule.condition
    if isinstance(cond, TopicRuleSpec | FrequencySpec | SpikeSpec):
        return max(cond.within, DEFAULT_REALERT[rule.kind])
    return DEFAULT_REALERT[rule.kind]
