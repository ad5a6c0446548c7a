"""Read models as plain JSON values: what ``--json`` prints and ``/api/`` returns.

One function for both, so that the command line and the web view cannot drift apart:
dataclasses keep their field names, timestamps are ISO 8601, paths are text, and a
number JSON cannot hold (infinite, NaN) is null.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no infinity (a value stored before extraction refused it)
    return value
