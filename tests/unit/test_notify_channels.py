"""channels.yaml: located errors with "did you mean", URLs only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.bundled import CHANNELS_EXAMPLE
from monitor.errors import ChannelFileError
from monitor.notify.channels import load_channels

SLACK_URL = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN123"
ENV = {
    "MONITOR_SLACK_DESK_URL": SLACK_URL,
    "HOOK_URL": "https://hooks.example.com/in/abc",
    "HOOK_SECRET": "s3cret-value",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "channels.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ChannelFileError) as info:
        load_channels(write(tmp_path, text), ENV if env is None else env)
    return [str(p) for p in info.value.problems]


GOOD = """\
channels:
  - name: desk-email
    type: email
    to: [analyst@example.com, lead@example.com]
    schedule: "0 8 * * 1-5"
    timezone: Asia/Shanghai
    immediate: high
  - name: desk-slack
    type: slack
    url_env: MONITOR_SLACK_DESK_URL
    schedule: "30 8 * * *"
    min_severity: medium
  - name: archive
    type: webhook
    url_env: HOOK_URL
    secret_env: HOOK_SECRET
    immediate: critical
    send_empty: true
"""


def test_a_good_file_loads_every_channel(tmp_path: Path) -> None:
    email, slack, hook = load_channels(write(tmp_path, GOOD), ENV)
    assert email.type == "email" and email.to == ("analyst@example.com", "lead@example.com")
    assert email.schedule is not None and email.schedule.timezone == "Asia/Shanghai"
    assert email.sends_at_once("critical") and email.sends_at_once("high")
    assert not email.sends_at_once("medium")
    assert slack.url is not None and slack.url.get_secret_value() == SLACK_URL
    assert slack.schedule is not None and slack.schedule.timezone == "UTC"
    assert slack.min_severity == "medium" and not slack.send_empty
    assert hook.secret is not None and hook.secret.get_secret_value() == "s3cret-value"
    assert hook.schedule is None and hook.send_empty and not hook.sends_at_once("high")


def test_the_url_never_shows_in_a_repr(tmp_path: Path) -> None:
    channels = load_channels(write(tmp_path, GOOD), ENV)
    shown = repr(channels) + str(channels)
    assert "SECRETTOKEN123" not in shown and "s3cret-value" not in shown
    assert "MONITOR_SLACK_DESK_URL" in shown  # the variable's name is fine to show


def test_the_bundled_example_is_valid(tmp_path: Path) -> None:
    env = {
        "MONITOR_SLACK_CHINA_TECH_URL": SLACK_URL,
        "MONITOR_SLACK_NY_URL": SLACK_URL,
        "MONITOR_ONCALL_HOOK_URL": "https://pager.example.com/hook",
        "MONITOR_ONCALL_HOOK_SECRET": "x",
    }
    names = [c.name for c in load_channels(CHANNELS_EXAMPLE, env)]
    assert names == ["desk-email", "china-tech-slack", "ny-slack", "on-call"]


def test_an_inline_url_is_refused_without_repeating_it(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "channels:\n  - name: s\n    type: slack\n    url: https://hooks.slack.com/services/T/B/LEAKED\n"
        '    schedule: "0 8 * * *"\n',
    )
    assert any(":4:5: channels.0.url: a webhook URL is a credential" in p for p in found)
    assert all("LEAKED" not in p for p in found)
    assert any("url_env" in p and "needs url_env" in p for p in found)


def test_unknown_keys_and_time_zones_get_a_suggestion(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "channels:\n"
        "  - name: e\n"
        "    type: email\n"
        "    to: [a@example.com]\n"
        '    shedule: "0 8 * * *"\n'
        "    timezone: Asia/Shangai\n",
    )
    assert (
        f"{tmp_path / 'channels.yaml'}:5:5: channels.0.shedule: unknown key; "
        "did you mean 'schedule'?" in found
    )
    assert any(
        ":6:15: channels.0.timezone: unknown time zone 'Asia/Shangai'; did you mean "
        "'Asia/Shanghai'?" in p
        for p in found
    )


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("0 8 * *", "needs 5 fields"),
        ("0 8 * * * *", "needs 5 fields"),
        ("61 8 * * *", "invalid cron expression"),
        ("0 8 * * mon-fri-sat", "invalid cron expression"),
        ("0 8 31 2 *", "never fires"),  # February the 31st
    ],
)
def test_bad_cron_expressions_are_located(tmp_path: Path, cron: str, why: str) -> None:
    found = problems(
        tmp_path,
        "channels:\n  - name: e\n    type: email\n    to: [a@example.com]\n"
        f'    schedule: "{cron}"\n',
    )
    assert len(found) == 1 and ":5:15: channels.0.schedule:" in found[0] and why in found[0]


def test_duplicate_names_and_missing_variables(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "channels:\n"
        "  - {name: s, type: slack, url_env: MONITOR_SLACK_DESK_URL, immediate: high}\n"
        "  - {name: s, type: slack, url_env: NOT_SET_ANYWHERE, immediate: high}\n",
    )
    assert any(
        ":3:12: channels.1.name: duplicate channel name 's' (first at channels.0)" in p
        for p in found
    )
    assert any(
        ":3:37: channels.1.url_env: environment variable NOT_SET_ANYWHERE is not set" in p
        for p in found
    )


def test_a_variable_holding_no_url_is_reported_without_its_value(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "channels:\n  - {name: s, type: slack, url_env: U, immediate: high}\n",
        env={"U": "http://hooks.slack.com/plain-http-TOKEN"},
    )
    assert any("U does not hold an https URL" in p for p in found)
    assert all("TOKEN" not in p for p in found)


@pytest.mark.parametrize(
    "url", ["https://hooks.example.test:99999/TOKEN", "https://[::1/TOKEN", "https:///TOKEN"]
)
def test_a_url_whose_host_or_port_is_invalid_is_reported(tmp_path: Path, url: str) -> None:
    found = problems(
        tmp_path,
        "channels:\n  - {name: s, type: slack, url_env: U, immediate: high}\n",
        env={"U": url},
    )
    assert any("U does not hold a valid URL (its host or port)" in p for p in found), found
    assert all("TOKEN" not in p for p in found)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: e, type: email, immediate: high}", "needs `to:`"),
        ("{name: e, type: email, to: ['a b@example.com'], immediate: high}", "not an email"),
        ('{name: e, type: email, to: ["x@y.z\\r\\nBcc: v@w.x"], immediate: high}', "not a plain"),
        ("{name: e, type: email, to: [a@example.com]}", "would never send"),
        ("{name: e, type: email, to: [a@example.com], immediate: urgent}", "immediate"),
        (
            "{name: s, type: slack, url_env: HOOK_URL, secret_env: HOOK_SECRET, immediate: low}",
            "not signed",
        ),
        (
            "{name: w, type: webhook, url_env: HOOK_URL, to: [a@example.com], immediate: low}",
            "`to:` is for email",
        ),
        ("{name: w, type: pager, url_env: HOOK_URL}", "type"),
        ("{name: 'bad name', type: slack, url_env: HOOK_URL, immediate: low}", "name"),
    ],
)
def test_each_mistake_is_reported(tmp_path: Path, entry: str, message: str) -> None:
    found = problems(tmp_path, f"channels:\n  - {entry}\n")
    assert any(message in p for p in found), found
    assert all(p.startswith(str(tmp_path / "channels.yaml") + ":2:") for p in found), found


def test_a_key_of_the_wrong_type_hides_no_other_problem(tmp_path: Path) -> None:
    """Every problem of a channel at once, in the order of its lines: a bad `immediate:`
    used to end the channel's checks, hiding its time zone and its unset variable."""
    found = problems(
        tmp_path,
        "channels:\n  - name: s\n    type: slack\n    url_env: NOT_SET_ANYWHERE\n"
        "    immediate: urgent\n    timezone: Mars/Olympus\n",
    )
    assert [p.split(": ", 2)[1] for p in found] == [
        "channels.0.url_env",
        "channels.0.immediate",
        "channels.0.timezone",
    ]
    assert ":5:16:" in found[1] and "unknown time zone 'Mars/Olympus'" in found[2]
    assert not any("would never send" in p for p in found)  # its `immediate:` was said


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ("{name: e, type: email, to: desk@example.com, immediate: high}", "to"),
        ("{name: s, type: slack, url_env: lower_case, immediate: high}", "url_env"),
        ("{name: e, type: email, to: [a@example.com], schedule: [0, 8]}", "schedule"),
    ],
)
def test_a_key_of_the_wrong_type_is_one_problem_not_two(
    tmp_path: Path, entry: str, key: str
) -> None:
    """The key is reported for its type; its absence from the checks after is no second
    problem ("needs `to:`", "would never send")."""
    found = problems(tmp_path, f"channels:\n  - {entry}\n")
    assert len(found) == 1 and f"channels.0.{key}:" in found[0], found


def test_not_a_channels_file(tmp_path: Path) -> None:
    assert "expected a `channels:` list" in problems(tmp_path, "sources: []\n")[0]
    assert "YAML syntax" in problems(tmp_path, "channels: [\n")[0]
    with pytest.raises(ChannelFileError, match="cannot read"):
        load_channels(tmp_path / "absent.yaml", ENV)
