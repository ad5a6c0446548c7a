"""Log lines on stderr, with a timestamp and stable keys: text or JSON lines.

Text: ``2026-12-04T15:40:00.123Z INFO monitor.app.polling: message key=value``. JSON: one
object per line with the keys ``ts``, ``level``, ``logger``, ``message`` and whatever the
call passed in ``extra=``. stdout stays free for ``--json`` output.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _ts(record: logging.LogRecord) -> str:
    at = datetime.fromtimestamp(record.created, UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        pairs = "".join(f" {k}={v}" for k, v in _extra(record).items())
        line = f"{_ts(record)} {record.levelname} {record.name}: {record.getMessage()}{pairs}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _ts(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(_extra(record))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(*, level: str | int, fmt: str, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else level)
    # a database echo switched on earlier in this process is switched on again by the
    # engine that asks for it (monitor.store.db.make_engine)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    if not verbose:
        # one line per request or migration step is noise at the default level
        for chatty in ("alembic", "httpx", "httpcore", "apscheduler", "aiosmtplib"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
        # the scheduler's warnings (a run skipped while the last one runs, a run missed)
        # are said by monitor.scheduler, at the level each deserves: a busy poll job is
        # the normal state of a busy daemon, not a warning at every tick
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
