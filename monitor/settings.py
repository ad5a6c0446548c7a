"""All configuration: one Settings object, read from MONITOR_* variables and an optional .env.

Nested groups use a double underscore: ``MONITOR_SMTP__HOST=mail.example.com``. The
database URL also has the short form ``MONITOR_DATABASE_URL`` (DESIGN.md section 4).
Built once, by the command line (:func:`load`); nothing else reads the environment.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from monitor.errors import ConfigError


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("monitor", appauthor=False))


class _Section(BaseModel):
    """A group of settings. No number may be infinite or NaN: "inf" reads as a float and
    overflowed wherever it became a duration (an internal OverflowError at start)."""

    model_config = ConfigDict(allow_inf_nan=False)


# The longest a duration setting may be: longer ones overflowed timedelta and the
# scheduler (1e14 seconds: every job failed at every run, silently).
MAX_SECONDS = 366 * 86400.0
MAX_MIB = 1 << 20  # a tebibyte, in MiB
MAX_DAYS = 3660.0
MAX_FACTOR = 1000.0


class DatabaseSettings(_Section):
    url: str | None = Field(
        None,
        description="SQLAlchemy URL; unset means the SQLite file monitor.db in the data "
        "directory. postgresql+psycopg://user@host/db shares one database between daemons.",
    )
    busy_timeout_ms: int = Field(
        5000,
        ge=0,
        le=86_400_000,
        description="SQLite busy timeout: how long a writer waits for a lock.",
    )
    echo: bool = Field(False, description="Log every SQL statement (debugging).")
    cache_mb: int = Field(
        32,
        ge=1,
        le=MAX_MIB,
        description="SQLite page cache per connection, in MiB. The near-duplicate index is "
        "read and written at random places; SQLite's own default (2 MiB) makes every lookup "
        "a read from the operating system once it holds ~10k articles. It is resident "
        "memory of every process, so a daemon stays bounded by it.",
    )
    mmap_mb: int = Field(
        0,
        ge=0,
        le=MAX_MIB,
        description="SQLite memory-mapped I/O, in MiB of the file (0: off). Mapped pages a "
        "process has touched count as its resident memory, up to the whole file; measured, "
        "the index was no faster with it, so it is off by default.",
    )


class HttpSettings(_Section):
    user_agent: str = Field(
        "monitor/0.1 (+https://github.com/monitor/monitor; news monitoring for analysts)",
        description="User-Agent sent with every request.",
    )
    connect_timeout: float = Field(
        10.0, gt=0, le=MAX_SECONDS, description="Seconds to open a connection."
    )
    read_timeout: float = Field(
        20.0, gt=0, le=MAX_SECONDS, description="Seconds to wait for each read."
    )
    total_timeout: float = Field(
        30.0,
        gt=0,
        le=MAX_SECONDS,
        description="Deadline in seconds for a whole request, body included.",
    )
    max_body_bytes: int = Field(
        10 * 1024 * 1024,
        gt=0,
        le=1 << 30,
        description="Cap on a decompressed response body, and on one file `monitor ingest` reads.",
    )
    max_redirects: int = Field(5, ge=0, le=100, description="Redirects followed per request.")
    concurrency: int = Field(
        32, ge=1, le=10_000, description="Requests in flight at once, all hosts."
    )
    per_host: int = Field(2, ge=1, le=1000, description="Requests in flight at once per host.")
    jitter: float = Field(
        0.25,
        ge=0,
        le=MAX_SECONDS,
        description="Up to this many seconds of random delay per host request.",
    )
    parse_workers: int | None = Field(
        None,
        ge=0,
        le=64,
        description="Processes that parse fetched bodies, each parse with a time and memory "
        "limit and a crash kept to its process. Unset: one in `monitor run`, a thread in "
        "one-shot commands (no process to start); 0: always a thread, no per-parse limit.",
    )
    parse_timeout: float = Field(
        20.0,
        gt=0,
        le=MAX_SECONDS,
        description="Seconds one parse may take in a parse worker process.",
    )
    allow_networks: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR networks admitted despite the SSRF guard "
        "(e.g. 127.0.0.1/32 for a local test server). In the environment, a JSON list: "
        '\'["127.0.0.1/32", "10.0.0.0/8"]\'.',
    )

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
        return value


class RulesSettings(_Section):
    dir: Path = Field(
        Path("rules"),
        description="Directory of analyst rule files (*.yaml). When it is not set and "
        "./rules does not exist, the rules shipped with monitor are used, and every command "
        "says so on stderr.",
    )
    regex_timeout: float = Field(
        0.05, gt=0, le=MAX_SECONDS, description="Seconds an analyst pattern may run on one article."
    )
    reload_interval: float = Field(
        5.0,
        gt=0,
        le=MAX_SECONDS,
        description="Seconds between checks for edited rule files in the daemon.",
    )


class SmtpSettings(_Section):
    host: str | None = Field(
        None,
        description="SMTP server; unset, email channels cannot send (`channels check` says so).",
    )
    port: int = Field(
        587, ge=1, le=65535, description="SMTP port (587 for STARTTLS, 465 for implicit TLS)."
    )
    username: str | None = Field(None, description="SMTP login user.")
    password: SecretStr | None = Field(None, description="SMTP login password.")
    tls: Literal["starttls", "implicit", "none"] = Field(
        "starttls",
        description="starttls: upgrade with STARTTLS and fail if the server does not offer "
        "it; implicit: TLS from the first byte (port 465); none: plaintext, for a local "
        "relay only (a login is then refused). Certificates are always verified.",
    )
    sender: str = Field("monitor@localhost", description="From address of digests.")
    timeout: float = Field(
        30.0, gt=0, le=MAX_SECONDS, description="Seconds for each SMTP operation."
    )


class SlackSettings(_Section):
    timeout: float = Field(15.0, gt=0, le=MAX_SECONDS, description="Seconds for a webhook request.")
    min_interval: float = Field(
        1.0,
        ge=0,
        le=MAX_SECONDS,
        description="Seconds between two messages to one Slack webhook (Slack allows about "
        "one message per second per webhook).",
    )


class WebhookSettings(_Section):
    timeout: float = Field(15.0, gt=0, le=MAX_SECONDS, description="Seconds for a webhook request.")


class DeliverySettings(_Section):
    lease: float = Field(
        120.0,
        gt=0,
        le=MAX_SECONDS,
        description="Seconds a dispatcher holds the messages it claimed; a crashed "
        "dispatcher's messages are sent by another (or after a restart) once it expires. A "
        "send is cut short (and retried) when 90% of it is spent, so it must exceed the "
        "slowest send.",
    )
    interval: float = Field(
        5.0, gt=0, le=MAX_SECONDS, description="Seconds between the daemon's looks at the outbox."
    )
    batch: int = Field(
        100, ge=1, le=10_000, description="Messages claimed at once by one dispatcher."
    )
    max_attempts: int = Field(
        12, ge=1, le=1000, description="Tries of one message before it is dead-lettered."
    )
    max_age: float = Field(
        86400.0,
        gt=0,
        le=MAX_SECONDS,
        description="Seconds after which a message that still fails is dead-lettered.",
    )
    backoff_base: float = Field(
        30.0,
        gt=0,
        le=MAX_SECONDS,
        description="The first retry comes after half to all of this many seconds (half fixed,"
        " half random); each next one may wait twice as long, up to BACKOFF_CAP. A server's"
        " Retry-After is waited when it asks for longer (a week at most, and never past"
        " MAX_AGE).",
    )
    backoff_cap: float = Field(
        3600.0, gt=0, le=MAX_SECONDS, description="Longest wait between two tries."
    )


class RetentionSettings(_Section):
    text_days: float = Field(
        90.0,
        gt=0,
        le=MAX_DAYS,
        description="Days an article's body (its text as fetched and cleaned) is kept; "
        "after that the title, facts, quotes and signature stay (monitor keeps no raw "
        "HTML).",
    )
    article_days: float = Field(
        730.0,
        gt=0,
        le=MAX_DAYS,
        description="Days articles, their facts and model names are kept; an article a live "
        "story or the rules' state still needs stays.",
    )
    live_days: float = Field(
        30.0,
        gt=0,
        le=MAX_DAYS,
        description="A story that had an article within this many days is live: none of "
        "its articles is pruned.",
    )
    delivery_days: float = Field(
        30.0,
        gt=0,
        le=MAX_DAYS,
        description="Days sent messages stay in the outbox (dead ones stay).",
    )
    interval: float = Field(
        86400.0,
        gt=0,
        le=MAX_SECONDS,
        description="Seconds between the daemon's retention runs; the first runs a minute "
        "after start (or one interval, if shorter), and a run that failed is tried again "
        "within the hour.",
    )


class ScheduleSettings(_Section):
    tick: float = Field(
        10.0, gt=0, le=MAX_SECONDS, description="Seconds between checks for sources that are due."
    )
    default_interval: float = Field(
        900.0, gt=0, le=MAX_SECONDS, description="Seconds between polls of a source that sets none."
    )
    evaluate_interval: float = Field(
        900.0,
        gt=0,
        le=MAX_SECONDS,
        description="Seconds between evaluations of time-based (stale) rules.",
    )
    misfire_grace: float = Field(
        300.0,
        gt=0,
        le=MAX_SECONDS,
        description="Seconds a late job may still run (then it is coalesced); whole seconds,"
        " rounded up.",
    )
    story_window_days: float = Field(
        7.0, gt=0, le=MAX_DAYS, description="Days within which a rewrite joins an existing story."
    )
    restatement_days: float = Field(
        365.0,
        gt=0,
        le=MAX_DAYS,
        description="Days after a story within which an article that restates its standing"
        " figure (a plan, a share) is linked to it as a restatement.",
    )
    max_backoff: float = Field(
        86400.0,
        gt=0,
        le=MAX_SECONDS,
        description="Longest backoff in seconds for a failing source.",
    )
    stale_factor: float = Field(
        4.0,
        gt=1,
        le=MAX_FACTOR,
        description="A source is stale after this many times its usual gap.",
    )
    lease: float = Field(
        240.0,
        gt=0,
        le=MAX_SECONDS,
        description="Seconds a worker holds the sources it claimed (renewed every third of "
        "it while a poll lasts); a dead worker's sources are polled by another after it.",
    )
    shutdown_grace: float = Field(
        20.0,
        ge=0,
        le=MAX_SECONDS,
        description="Seconds `monitor run` lets polls and sends under way finish after "
        "SIGTERM or SIGINT before it cancels them (keep it under the orchestrator's own "
        "grace, 30 s in Kubernetes).",
    )


class WebSettings(_Section):
    address: str = Field(
        "127.0.0.1:8080",
        description="host:port where `monitor serve` (and `monitor run --web`) serves the "
        "analyst web view. Any address but a loopback one needs MONITOR_WEB__TOKEN.",
    )
    token: SecretStr | None = Field(
        None,
        description="The token the web view asks for (an `Authorization: Bearer` header, or "
        "the login form, which sets a session cookie). Required to bind a non-loopback "
        "address; when set, asked for on loopback too.",
    )
    page_size: int = Field(50, ge=5, le=1000, description="Rows per page of the web view's lists.")
    chart_marks: int = Field(
        2000,
        ge=100,
        le=100_000,
        description="Values a metric chart draws one mark each; beyond it, each column of the "
        "chart shows the range and median of its values (the table below lists every value).",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MONITOR_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        allow_inf_nan=False,
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where monitor keeps its SQLite database when no database URL is set, "
        "and in triage/ the start of the last 50 feed bodies the feed parser crashed on.",
    )
    sources_file: Path = Field(Path("sources.yaml"), description="The sources to poll (YAML).")
    channels_file: Path = Field(
        Path("channels.yaml"),
        description="Where digests and alerts go (YAML): email, Slack and webhook channels "
        "with their schedules. Example: monitor/bundled/channels.example.yaml.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="Logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )
    metrics_address: str | None = Field(
        None,
        description="host:port where `monitor run` serves /healthz, /readyz and /metrics "
        "(e.g. 127.0.0.1:9464); unset: not served. `--metrics-address` overrides it.",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log lines on stderr: text (timestamp, level, logger, message, key=value "
        "pairs) or json (one object per line with the keys ts, level, logger, message and "
        "the event's own keys).",
    )
    database_url: str | None = Field(None, description="Short form of database.url; wins when set.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @property
    def db_url(self) -> str:
        return self.database_url or self.database.url or f"sqlite:///{self.data_dir / 'monitor.db'}"


# ----------------------------------------------------------------- reading the environment

PREFIX = "MONITOR_"
# Variables of monitor's own test harness, not settings (tests/conftest.py).
_HARNESS = ("MONITOR_TEST_",)


def _is_group(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def variable_names() -> dict[str, tuple[str, ...]]:
    """Every settings variable, with the path of the field it sets."""
    out: dict[str, tuple[str, ...]] = {}
    for name, field in Settings.model_fields.items():
        if _is_group(field.annotation):
            for sub in field.annotation.model_fields:  # type: ignore[union-attr]
                out[f"{PREFIX}{name.upper()}__{sub.upper()}"] = (name, sub)
        else:
            out[f"{PREFIX}{name.upper()}"] = (name,)
    return out


def environment() -> Mapping[str, str]:
    """The process environment, for the variables the channels file names (``url_env``,
    ``secret_env``): read here, like every other variable."""
    return os.environ


def misspelt_variables() -> list[tuple[str, str]]:
    """``MONITOR_*`` variables that are no setting but look like one: (given, meant).

    Only close misses are named; another ``MONITOR_`` variable (the name of a webhook
    URL's variable in channels.yaml, say) is left alone.
    """
    known = variable_names()
    out = []
    for key in sorted(os.environ):
        if not key.startswith(PREFIX) or key in known or key.startswith(_HARNESS):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.85)
        if close:
            out.append((key, close[0]))
    return out


def _list_fields() -> list[str]:
    return [
        var for var, path in variable_names().items() if "list[" in str(_field(path).annotation)
    ]


def _field(path: tuple[str, ...]) -> Any:
    field = Settings.model_fields[path[0]]
    if len(path) == 2:
        field = field.annotation.model_fields[path[1]]  # type: ignore[union-attr]
    return field


# Settings that existed once: set today, each would be ignored and lose work silently.
RETIRED = {
    f"{PREFIX}SMTP__RECIPIENTS": "recipients are given per email channel in the channels "
    "file (to: [...]; see MONITOR_CHANNELS_FILE)",
    f"{PREFIX}SMTP__STARTTLS": "use MONITOR_SMTP__TLS=starttls|implicit|none",
    f"{PREFIX}SLACK__WEBHOOK_URL": "a Slack channel in the channels file names the variable "
    "holding its URL (url_env:)",
    f"{PREFIX}SCHEDULE__DIGEST_INTERVAL": "each channel of the channels file has its own "
    "schedule (cron, with a time zone)",
}


def load(**overrides: Any) -> Settings:
    """Settings from the environment and ``.env``; any bad value, and any retired
    setting, is a one-line ``ConfigError`` naming the variable."""
    for var, instead in RETIRED.items():
        if var in os.environ:
            raise ConfigError(f"setting {var}: retired: {instead}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(str(p) for p in first.get("loc", ()))
        var = PREFIX + "__".join(p.upper() for p in loc) if loc else "settings"
        if loc == ("database_url",):
            var = f"{PREFIX}DATABASE_URL"
        given = first.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise ConfigError(f"setting {var}: {msg}{shown}") from None
    except SettingsError:
        for var in _list_fields():
            raw = os.environ.get(var)
            if raw is None:
                continue
            try:
                json.loads(raw)
            except ValueError:
                parts = (p.strip().strip("[]").strip().strip("'\"") for p in raw.split(","))
                items = [part for part in parts if part]
                raise ConfigError(
                    f"setting {var}: expected a JSON list such as '{json.dumps(items)}'"
                    f" (got {raw!r})"
                ) from None
        raise ConfigError("settings: a MONITOR_* value that should be JSON is not") from None
    except UnicodeDecodeError as exc:  # .env is read as UTF-8
        where = Path(".env").resolve()
        raise ConfigError(
            f"{where}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset"
            f" {exc.start}); save it as UTF-8"
        ) from None
