"""Settings: env prefix, nested groups, secrets, descriptions, and README's table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from monitor.settings import Settings
from tests.conftest import ROOT


def setting_names() -> list[str]:
    names = []
    for name, field in Settings.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names += [f"MONITOR_{name.upper()}__{sub.upper()}" for sub in ann.model_fields]
        else:
            names.append(f"MONITOR_{name.upper()}")
    return names


def test_every_setting_has_a_description() -> None:
    for name, field in Settings.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            for sub, sf in ann.model_fields.items():
                assert sf.description, f"{name}.{sub} has no description"
        else:
            assert field.description, f"{name} has no description"


def test_readme_table_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `(MONITOR_[A-Z_]+)` \|", readme, flags=re.MULTILINE))
    missing = [n for n in setting_names() if n not in rows]
    assert not missing, f"README's settings table lacks {missing}"
    unknown = rows - set(setting_names())
    assert not unknown, f"README's settings table lists settings that do not exist: {unknown}"


def test_environment_and_nested_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("MONITOR_HTTP__MAX_REDIRECTS", "3")
    monkeypatch.setenv("MONITOR_SMTP__PASSWORD", "hunter2")
    monkeypatch.setenv("MONITOR_HTTP__ALLOW_NETWORKS", '["127.0.0.1/32"]')
    s = Settings()
    assert s.db_url == "sqlite:///x.db"
    assert s.http.max_redirects == 3
    assert s.http.allow_networks == ["127.0.0.1/32"]
    assert isinstance(s.smtp.password, SecretStr)
    assert "hunter2" not in repr(s)


def test_default_database_is_sqlite_in_user_data_dir() -> None:
    s = Settings()
    assert s.db_url.startswith("sqlite:///")
    assert s.db_url.endswith("monitor/monitor.db")


def test_data_dir_holds_the_default_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path))
    assert Settings().db_url == f"sqlite:///{tmp_path / 'monitor.db'}"


@pytest.mark.parametrize(
    ("var", "value", "said"),
    [
        ("MONITOR_SCHEDULE__MISFIRE_GRACE", "inf", "finite number"),
        ("MONITOR_SCHEDULE__MISFIRE_GRACE", "1e14", "less than or equal to 31622400"),
        ("MONITOR_SCHEDULE__TICK", "nan", "finite number"),
        ("MONITOR_SCHEDULE__STORY_WINDOW_DAYS", "1e12", "less than or equal to 3660"),
        ("MONITOR_HTTP__READ_TIMEOUT", "inf", "finite number"),
    ],
)
def test_a_duration_that_would_overflow_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, said: str
) -> None:
    """ "inf" read as a float and `monitor run` ended in an internal OverflowError; 1e14
    seconds started, and every scheduled job failed at every run."""
    from monitor.errors import ConfigError
    from monitor.settings import load

    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load()
    assert str(info.value).startswith(f"setting {var}: ") and said in str(info.value)


def _float_settings(kind: Any = float) -> list[tuple[type[Any], str]]:
    return [
        (section, name)
        for field in Settings.model_fields.values()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        for section in [field.annotation]
        for name, f in section.model_fields.items()
        if f.annotation == kind
    ]


def test_every_number_of_seconds_or_days_has_an_upper_bound() -> None:
    """One past the bound (1e14 seconds, days) overflowed timedelta or the scheduler
    where it was used: every setting refuses it, as it refuses inf and nan."""
    from pydantic import ValidationError

    found = _float_settings()
    assert len(found) > 20  # the walk finds the sections' durations
    for section, name in found:
        for bad in (1e14, float("inf"), float("nan")):
            with pytest.raises(ValidationError):
                section(**{name: bad})


def test_every_whole_number_setting_has_an_upper_bound() -> None:
    """MONITOR_DELIVERY__BATCH of 2**63 ended `deliveries dispatch` in an internal
    OverflowError (SQLite's integers are 64 bits): every whole-number setting refuses a
    number past its use, naming the variable."""
    from pydantic import ValidationError

    found = _float_settings(int) + _float_settings(int | None)
    assert len(found) >= 12
    for section, name in found:
        with pytest.raises(ValidationError):
            section(**{name: 2**63})
