"""The one error tree of monitor.

    MonitorError                      anything monitor reports to a person (exit 1)
    ├── UsageError                    a command given wrongly (exit 2, like argparse)
    ├── ConfigError                   settings, sources.yaml
    │   ├── SourceFileError           sources.yaml (path:line:col)
    │   └── ChannelFileError          channels.yaml (path:line:col)
    ├── RuleFileError                 rules/*.yaml, carries every problem found
    ├── StoreError                    the database could not be used or upgraded
    ├── FetchError(kind)              one source could not be fetched, or monitor.net
    │                                 refused a destination (the guard, a body cap)
    ├── ParseError(kind)              a fetched body could not be read
    ├── IngestError                   a local file given to `monitor ingest`
    └── DeliveryError(kind, permanent) a notifier could not deliver

The daemon catches ``MonitorError`` at one boundary (``pipeline``), records it on the
source or delivery row and carries on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class MonitorError(Exception):
    """An error with a one-line cause fit to show a user."""


class UsageError(MonitorError):
    pass


class ConfigError(MonitorError):
    pass


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in a user-written file, located."""

    path: str
    line: int  # 1-based
    col: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class FileProblems(ConfigError):
    """A user file with one or more located problems; str() lists them one per line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SourceFileError(FileProblems):
    pass


class RuleFileError(FileProblems):
    pass


class ChannelFileError(FileProblems):
    pass


class StoreError(MonitorError):
    pass


class IngestError(MonitorError):
    pass


class FetchError(MonitorError):
    """A fetch failure of a known kind (timeout_total, too_large, blocked_address, ...)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        url: str | None = None,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        self.kind = kind
        self.url = url
        self.retry_after = retry_after
        self.status = status
        super().__init__(f"{kind}: {message}" + (f" ({url})" if url else ""))


class ParseError(FetchError):
    """A body that arrived but could not be read (not_a_feed, parse, empty_body, ...)."""


class DeliveryError(MonitorError):
    def __init__(
        self,
        kind: str,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.kind = kind
        self.reason = message  # without the kind, which the outbox row gives apart
        self.permanent = permanent
        self.retry_after = retry_after
        super().__init__(f"{kind}: {message}")
