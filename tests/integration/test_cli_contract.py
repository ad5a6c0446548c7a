"""The command-line contract: command groups, global options before or after the command,
help with an example everywhere, exit codes, ``--json`` listings, one line for every
mistake and fault of the environment, and no silent default that loses work."""

from __future__ import annotations

import http.server
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest

from monitor.cli import main
from monitor.cli.root import root
from monitor.demo_server import serve_directory
from tests.conftest import ROOT, SEEDS
from tests.integration.conftest import Result

Run = Callable[..., Result]

# Short articles written for these tests.
CAPEX = (
    "Alibaba will invest RMB 380 billion in cloud computing and AI infrastructure over the next "
    "three years, the company said on Monday, more than it spent in the past decade."
)
SHARES = (
    "Tencent said its cloud unit now holds 16% of the China market, and it plans to spend "
    "RMB 90 billion on data centres next year as demand for its Hunyuan models grows."
)
PLAIN = "The weather was mild in the city this week, and the parks were full on Sunday afternoon."


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def one_line_error(out: Result, code: int = 1) -> str:
    assert out.returncode == code, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("monitor: error:")]
    assert len(errors) == 1, out.stderr
    return errors[0]


# ----------------------------------------------------------------- command groups


def test_global_options_work_before_or_after_the_command(run: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    article = write(tmp_path, "capex.txt", CAPEX)
    assert run("ingest", str(article), "--db", url, db=None).returncode == 0
    outputs = [
        run("--db", url, "stories", "list", "--json", db=None),
        run("stories", "--db", url, "--json", db=None),  # the form that once failed
        run("stories", "list", "--db", url, "--json", db=None),
        run("--json", "stories", "--db", url, db=None),
    ]
    for out in outputs:
        assert out.returncode == 0, out.stderr
    lists = [json.loads(out.stdout) for out in outputs]
    assert lists[0] and all(x == lists[0] for x in lists)
    assert lists[0][0]["members"][0]["url"].endswith("capex.txt")


def test_version(run: Run) -> None:
    out = run("--version", db=None)
    assert out.returncode == 0 and re.fullmatch(r"monitor \S+\n", out.stdout)


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _paths(cmd, (*prefix, name))


def test_every_command_and_subcommand_has_help_with_an_example(run: Run) -> None:
    main(["--help"])  # registers every command
    paths = list(_paths(root))
    assert {("sources", "check"), ("stories", "show"), ("rules", "test")} <= set(paths)
    for path in paths:
        out = run(*path, "--help", db=None)
        assert out.returncode == 0, path
        assert "Example" in out.stdout and "monitor " in out.stdout.split("Example")[1], path


def test_exit_codes(run: Run, db: str) -> None:
    bad_date = run("facts", "--since", "2025-13-45", db=db)
    assert bad_date.returncode == 2 and "is not a date" in bad_date.stderr
    assert run("alerts", "--fired-since", "yesterday", db=db).returncode == 2
    assert run("stories", "show", "x", db=db).returncode == 2
    assert run("nosuchcommand", db=db).returncode == 2
    missing = one_line_error(run("stories", "show", "999", db=db))
    assert "no story 999" in missing
    assert run("alerts", "--json", db=db).returncode == 0
    no_listing = run("--json", "db", "upgrade", db=db)
    assert no_listing.returncode == 2 and "prints no listing" in no_listing.stderr
    # a number past the database's integers is a usage error, not an internal one
    huge = str(10**20)
    for args in (
        ("stories", "show", huge),
        ("digest", "show", huge),
        ("deliveries", "retry", huge),
        ("stories", "list", "--limit", huge),
        ("digest", "list", "--limit", huge),
        ("deliveries", "list", "--limit", huge),
    ):
        out = run(*args, db=db)
        assert out.returncode == 2 and "not in the range" in out.stderr, (args, out.stderr)
    assert run("stories", "list", "--limit", str(2**63 - 1), db=db).returncode == 0
    # a group's options without its command printed the help, exit 0, and did nothing
    bare = run("digest", "--channel", "x", "--html", "out.html", db=db)
    assert bare.returncode == 2 and "--channel, --html without a command" in bare.stderr
    ignored = run("--sources", "elsewhere.yaml", "demo", db=db)  # it was ignored
    assert ignored.returncode == 2 and "do not apply" in ignored.stderr


def test_date_options_say_which_date(run: Run) -> None:
    assert "--published-since" in run("facts", "--help", db=None).stdout
    assert "--fired-since" in run("alerts", "--help", db=None).stdout
    assert "--published-since" in run("stories", "list", "--help", db=None).stdout


def test_rules_check_json_gives_problems_as_objects(run: Run, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(ROOT / "rules" / "vocabulary.yaml", rules / "vocabulary.yaml")
    bad = write(
        rules,
        "bad.yaml",
        "rules:\n  - id: x\n    when: {new_term: qwen_models}\n    sevrity: high\n",
    )
    out = run("rules", "check", str(rules), "--json", db=None)
    assert out.returncode == 1
    problems = json.loads(out.stdout)
    assert problems == [
        {
            "file": str(bad),
            "line": 4,
            "column": 5,
            "message": problems[0]["message"],
        }
    ]
    assert "sevrity" in problems[0]["message"] and "severity" in problems[0]["message"]
    clean = run("rules", "check", "--json", db=None)
    assert clean.returncode == 0 and json.loads(clean.stdout) == []


def test_old_invocations_keep_working(run: Run, db: str, tmp_path: Path) -> None:
    assert run("ingest", str(write(tmp_path, "a.txt", CAPEX)), db=db).returncode == 0
    listed = run("stories", "--json", db=db)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 1
    preview = run("digest", "--preview", db=db)
    assert preview.returncode == 0 and "What changed" in preview.stdout
    assert run("digest", "preview", db=db).stdout == preview.stdout
    bare = run("digest", db=db)  # no longer an error, and sends nothing: it shows the help
    assert bare.returncode == 0 and "preview" in bare.stdout
    assert run("sources", "--json", db=db).stdout.strip() == "[]"


# --------------------------------------------------------------- never a traceback


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("MONITOR_HTTP__ALLOW_NETWORKS", "10.0.0.1", "expected a JSON list"),
        # the list it suggests is one that works: one string per network
        (
            "MONITOR_HTTP__ALLOW_NETWORKS",
            "127.0.0.1/32, 10.0.0.0/8",
            """such as '["127.0.0.1/32", "10.0.0.0/8"]'""",
        ),
        (
            "MONITOR_HTTP__ALLOW_NETWORKS",
            "[10.0.0.1, '10.0.0.2']",
            """such as '["10.0.0.1", "10.0.0.2"]'""",
        ),
        ("MONITOR_SMTP__RECIPIENTS", "a@b.c", "retired: recipients are given per email"),
        ("MONITOR_HTTP__ALLOW_NETWORKS", '["10.0.0.300/8"]', "not an IP address or CIDR"),
        ("MONITOR_SMTP__PORT", "-1", "greater than or equal to 1"),
        ("MONITOR_LOG_FORMAT", "xml", "text"),
    ],
)
def test_a_bad_setting_is_one_line(
    run: Run, db: str, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    line = one_line_error(run("sources", "list", db=db))
    assert line.startswith(f"monitor: error: setting {variable}: ") and says in line


def test_a_misspelt_variable_is_named_with_the_closest_setting(
    run: Run, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_SMTP__HOTS", "mail.example.com")
    monkeypatch.setenv("MONITOR_SLACK_DESK_URL", "https://hooks.example/x")  # a channel's URL
    out = run("sources", "list", db=db)
    assert out.returncode == 0
    assert "MONITOR_SMTP__HOTS is not a setting; did you mean MONITOR_SMTP__HOST?" in out.stderr
    assert "MONITOR_SLACK_DESK_URL" not in out.stderr


def _entry(
    args: list[str],
    cwd: Path,
    *,
    stdout: int | None = None,
    stderr: int | None = None,
    preexec_fn: Callable[[], object] | None = None,
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MONITOR_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=env,
        stdout=stdout,
        stderr=stderr,
        preexec_fn=preexec_fn,
    )


def _seeded(tmp_path: Path) -> Path:
    path = tmp_path / "seeded.db"
    code = main(["--db", str(path), "ingest", "-r", str(SEEDS / "site"), str(SEEDS / "feeds")])
    assert code == 0
    return path


def test_output_into_a_closed_pipe_is_one_line(tmp_path: Path) -> None:
    path = _seeded(tmp_path)
    proc = _entry(
        ["--db", str(path), "facts", "--all", "--json"],
        tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read(10)  # like `| head -c 10`: far less than the output
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert first.startswith(b"[")
    assert err.strip().splitlines()[-1] == "monitor: error: output closed before it was all written"
    assert "Traceback" not in err


def test_a_damaged_database_is_reported_by_db_upgrade(run: Run, tmp_path: Path) -> None:
    path = _seeded(tmp_path)
    with sqlite3.connect(path) as conn:  # every page in the file itself, none in the WAL
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with path.open("r+b") as f:  # scribble over pages after the schema's
        f.seek(4096 * 2)
        f.write(b"\xde\xad\xbe\xef" * 1024 * 8)
    line = one_line_error(run("--db", str(path), "db", "upgrade", db=None))
    assert f"the database sqlite:///{path} is damaged" in line and "malformed" in line
    noise = tmp_path / "noise.db"
    noise.write_bytes(os.urandom(8192))
    assert "not a database" in one_line_error(run("--db", str(noise), "db", "upgrade", db=None))
    healthy = _seeded(tmp_path / "fresh")
    ok = run("--db", str(healthy), "db", "upgrade", db=None)
    assert ok.returncode == 0 and "database at revision" in ok.stdout


def test_a_database_a_newer_monitor_upgraded_is_named_with_its_revision(
    run: Run, tmp_path: Path
) -> None:
    """Several daemons share one database: one upgraded to a newer monitor moves the
    schema past what the others know. Each command says so, on one line."""
    path = _seeded(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_future'")
    for args in (["db", "upgrade"], ["stories", "list"], ["health"]):
        line = one_line_error(run("--db", str(path), *args, db=None))
        assert "schema revision 0099_future, which this monitor does not know" in line, args
        assert "internal error" not in line


def test_a_locked_database_is_busy_not_damaged(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _seeded(tmp_path)
    monkeypatch.setenv("MONITOR_DATABASE__BUSY_TIMEOUT_MS", "100")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, as far as SQLite can tell
    try:
        line = one_line_error(run("--db", str(path), "db", "upgrade", db=None))
    finally:
        holder.rollback()
        holder.close()
    assert "is busy (database is locked)" in line and "damaged" not in line


def test_a_read_only_database_is_one_line_and_loses_nothing(run: Run, tmp_path: Path) -> None:
    path = _seeded(tmp_path)
    before = sqlite3.connect(path).execute("SELECT COUNT(*) FROM article").fetchone()
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    article = write(tmp_path, "new.txt", SHARES)
    line = one_line_error(run("--db", read_only, "ingest", str(article), db=None))
    assert f"the database {read_only} is read-only" in line  # named: which file to look at
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM article").fetchone() == before
    listed = run("--db", read_only, "stories", "--json", db=None)  # reading still works
    assert listed.returncode == 0 and json.loads(listed.stdout)


def test_a_full_disk_is_one_line_and_loses_nothing(tmp_path: Path) -> None:
    path = _seeded(tmp_path)
    before = sqlite3.connect(path).execute("SELECT COUNT(*) FROM article").fetchone()
    files = [
        write(tmp_path / "big", f"r{i}.txt", f"Report {i}. {SHARES} " * 300) for i in range(30)
    ]
    limit = path.stat().st_size + 8192

    def full_disk() -> None:  # the file system refuses to grow any file past the limit
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = _entry(
        ["--db", str(path), "ingest", *map(str, files)],
        tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=full_disk,
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    text = err.decode()
    assert "Traceback" not in text
    assert (
        text.strip()
        .splitlines()[-1]
        .startswith(f"monitor: error: the database sqlite:///{path} could not be written")
    )
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM article").fetchone() == before


# ---------------------------------------------------- no silent default that loses work


def test_a_missing_or_broken_rules_directory_is_an_error_for_work(
    run: Run, db: str, tmp_path: Path
) -> None:
    article = str(write(tmp_path, "a.txt", CAPEX))
    missing = one_line_error(run("--rules", str(tmp_path / "nope"), "ingest", article, db=db))
    assert "nope" in missing and "no such file" in missing
    broken = tmp_path / "broken"
    shutil.copytree(ROOT / "rules", broken)
    (broken / "watch.yaml").write_text("rules:\n  - id: [oops\n", encoding="utf-8")
    for command in (("ingest", article), ("poll", "--once"), ("run",)):
        out = run("--rules", str(broken), *command, db=db)
        assert out.returncode == 1, command
        assert f"{broken / 'watch.yaml'}:" in out.stderr and "Traceback" not in out.stderr
    listed = run("--json", "facts", db=db)
    assert json.loads(listed.stdout) == []  # nothing was stored with half the vocabulary


def test_without_a_rules_directory_the_shipped_rules_are_used_and_said(
    run: Run, tmp_path: Path
) -> None:
    article = str(write(tmp_path, "a.txt", CAPEX))
    out = run("--db", "here.db", "ingest", article, db=None, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "using the rules shipped with monitor" in out.stderr
    facts = json.loads(run("--db", "here.db", "facts", "--json", db=None, cwd=tmp_path).stdout)
    assert {(f["entity"], f["metric"]) for f in facts if f["kind"] == "fact"} == {
        ("alibaba", "ai_capex_plan")
    }
    # a ./rules that is a link to nowhere (a copied relative link) is not "no rules/ here"
    (tmp_path / "rules").symlink_to("../nowhere/rules")
    line = one_line_error(run("--db", "here.db", "ingest", article, db=None, cwd=tmp_path))
    assert f"{tmp_path / 'rules'}: a link to ../nowhere/rules, which does not exist" in line


def test_database_paths_say_where_they_were_made(run: Run, tmp_path: Path) -> None:
    out = run("--db", "sqlite:///a/b/c.db", "alerts", db=None, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "a" / "b" / "c.db").is_file()
    assert f"created {tmp_path / 'a' / 'b'}" in out.stderr
    plain = run("--db", "plain/x.db", "alerts", db=None, cwd=tmp_path)  # a path is SQLite
    assert plain.returncode == 0 and (tmp_path / "plain" / "x.db").is_file()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://u@localhost/x", "bad database URL"),
        ("mysql://u:s3cret@localhost/x", "bad database URL 'mysql://u:***@localhost/x'"),
        # a port that is no number: the URL does not parse, its password is masked all the same
        ("postgresql+psycopg://u:s3cret@h:abc/x", "bad database URL 'postgresql+psycopg://u:***@"),
        ("postgresql+psycopg://u@127.0.0.1:1/x?password=s3cret", "x?password=***: "),
        ("sqlite://", "an SQLite database in memory keeps nothing"),
        ("sqlite:///:memory:", "an SQLite database in memory keeps nothing"),
        ("postgresql+pg8000://u@localhost/x", "no driver for the database URL"),
        # nothing listens on port 1 of loopback: the driver's two-line reason on one line
        ("postgresql+psycopg://u@127.0.0.1:1/x", "cannot open database"),
    ],
)
def test_a_database_monitor_cannot_use_is_one_line(run: Run, url: str, said: str) -> None:
    out = run("--db", url, "stories", db=None)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and said in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and "s3cret" not in out.stderr


def test_ingest_of_a_folder_recurses_only_when_asked(run: Run, db: str, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write(folder, "one.txt", CAPEX)
    write(folder / "deeper", "two.txt", SHARES)
    refused = run("ingest", str(folder), db=db)
    assert refused.returncode == 2 and "--recursive" in refused.stderr
    out = run("ingest", "--recursive", str(folder), "--json", db=db)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [Path(r["file"]).name for r in rows] == ["two.txt", "one.txt"] or [
        Path(r["file"]).name for r in rows
    ] == ["one.txt", "two.txt"]
    assert all(r["new"] == 1 and r["facts"] >= 1 and r["error"] is None for r in rows)


def test_ingest_reports_each_unreadable_file_and_empty_article(
    run: Run, db: str, tmp_path: Path
) -> None:
    good = write(tmp_path, "good.txt", CAPEX)
    plain = write(tmp_path, "plain.txt", PLAIN)
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    mangled = tmp_path / "mangled.txt"
    mangled.write_bytes("\ufffd".encode() * 300)
    # binary data behind a UTF-16 byte-order mark read as UTF-16 was stored as an article
    marked = tmp_path / "marked.html"
    marked.write_bytes(b"\xff\xfe" + zlib.compress(bytes(range(256)) * 64))
    files = (good, binary, plain, mangled, marked)
    out = run("ingest", *map(str, files), "--json", db=db)
    assert out.returncode == 1  # three files could not be read; the others are stored
    assert f"error: {binary}: a binary file, not text" in out.stderr
    assert f"error: {mangled}: not readable as text" in out.stderr
    assert f"error: {marked}: a binary file, not text (a UTF-16 byte-order mark" in out.stderr
    assert f"note: {plain}: nothing found" in out.stderr
    assert "3 file(s) could not be read" in out.stderr
    rows = {Path(r["file"]).name: r for r in json.loads(out.stdout)}
    assert rows["good.txt"]["new"] == 1 and rows["plain.txt"]["new"] == 1
    assert rows["photo.txt"]["error"] and rows["photo.txt"]["new"] == 0
    # without --json (only the totals are kept) the note names the file all the same
    other = write(tmp_path, "other.txt", PLAIN + " Rain is due on Monday.")
    assert f"note: {other}: nothing found" in run("ingest", str(other), db=db).stderr


def test_articles_another_source_already_has_are_counted(run: Run, db: str, tmp_path: Path) -> None:
    article = str(write(tmp_path, "a.txt", CAPEX))
    assert run("ingest", article, "--source", "first", db=db).returncode == 0
    again = run("ingest", article, "--source", "second", db=db)
    assert again.returncode == 0
    assert "0 new" in again.stderr and "1 stored from another source (dropped)" in again.stderr


def test_a_feed_cut_short_is_reported_as_partial(
    run: Run, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    (site / "feeds").mkdir(parents=True)
    whole = (SEEDS / "feeds" / "wire.atom").read_text(encoding="utf-8")
    cut = whole[: whole.index("</entry>", whole.index("</entry>") + 1) + len("</entry>") + 40]
    (site / "feeds" / "wire.atom").write_text(cut, encoding="utf-8")
    monkeypatch.setenv("MONITOR_HTTP__ALLOW_NETWORKS", '["127.0.0.1/32"]')
    monkeypatch.setenv("MONITOR_HTTP__JITTER", "0")
    with serve_directory(site) as base:
        sources = write(
            tmp_path,
            "sources.yaml",
            f"sources:\n  - name: wire\n    url: {base}feeds/wire.atom\n    kind: atom\n",
        )
        out = run("--sources", str(sources), "poll", "--once", db=db)
        fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
        as_json = run("--sources", str(sources), "poll", "--once", "--json", db=fresh)
    assert out.returncode == 0, out.stderr
    assert "wire: 2 item(s), 2 new" in out.stderr and "PARTIAL" in out.stderr
    assert json.loads(as_json.stdout)[0]["partial"] is True


# --------------------------------------------------------------------------- logs


def test_logs_carry_timestamps_and_stable_keys(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_SMTP__HOTS", "x")  # something worth a warning
    text = run("--db", "t.db", "alerts", db=None, cwd=tmp_path)
    line = next(ln for ln in text.stderr.splitlines() if "MONITOR_SMTP__HOTS" in ln)
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING monitor: ", line)
    as_json = run("--log-format", "json", "--db", "t.db", "alerts", db=None, cwd=tmp_path)
    records = [json.loads(ln) for ln in as_json.stderr.splitlines()]
    assert records and all({"ts", "level", "logger", "message"} <= r.keys() for r in records)
    monkeypatch.setenv("MONITOR_LOG_FORMAT", "json")
    by_setting = run("--db", "t.db", "alerts", db=None, cwd=tmp_path)
    assert all(json.loads(ln)["level"] for ln in by_setting.stderr.splitlines())


# --------------------------------------------------------- the demo from anywhere


def test_the_installed_package_runs_the_demo_from_any_directory(tmp_path: Path) -> None:
    """The wheel carries the demo corpus and the default rules: `monitor demo` works in a
    folder with neither (the dependencies come from this environment)."""
    wheels = tmp_path / "wheels"
    # built from a copy of the sources: setuptools reuses a build/ folder, and a module
    # renamed since the last build would ship under both names (two migration heads)
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
    ))  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("monitor-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "HOME": str(tmp_path)}
    env = {k: v for k, v in env.items() if not k.startswith("MONITOR_")}
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from monitor.cli import main; sys.exit(main())",
         "demo"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert str(site / "monitor" / "bundled" / "seeds") in out.stderr  # not the clone's
    assert "What changed" in out.stdout and "Alibaba" in out.stdout
    assert "The SMTP sink received 3 email(s)" in out.stdout
    # the Slack-like receiver got the two immediate alerts and the digest, as Block Kit
    received = out.stdout.split("The Slack-like receiver received ", 1)[1].splitlines()
    assert received[0] == "3 message(s):"
    blocks = [ln for ln in received[1:4] if ln.lstrip()[0].isdigit() and "block(s):" in ln]
    assert len(blocks) == 3 and "monitor digest for china-tech-slack" in blocks[-1]
    assert not list(elsewhere.iterdir())  # it wrote nothing where it was run
    # how to look at it: the web view of the demo's database, whose assets the wheel ships
    db_url = next(ln for ln in out.stderr.splitlines() if ln.startswith("database: ")).split()[1]
    assert f"monitor serve --db {db_url}" in out.stderr
    web = site / "monitor" / "web"
    assert (web / "static" / "style.css").is_file() and (web / "templates" / "chart.svg").is_file()


def test_ingest_reports_a_pipe_and_an_oversized_file_and_stores_the_rest(
    run: Run, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A named pipe given by path would block the read for ever; a file past the cap on
    one body would take gigabytes as one article. Each is one line naming it."""
    good = write(tmp_path, "good.txt", CAPEX)
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    big = write(tmp_path, "big.txt", f"Report. {SHARES} " * 200)
    monkeypatch.setenv("MONITOR_HTTP__MAX_BODY_BYTES", str(big.stat().st_size - 1))
    out = run("ingest", str(good), str(fifo), str(big), "--json", db=db)
    assert out.returncode == 1
    assert f"error: {fifo}: not a regular file" in out.stderr
    assert f"error: {big}: {big.stat().st_size:,} bytes, over the cap" in out.stderr
    rows = {Path(r["file"]).name: r for r in json.loads(out.stdout)}
    assert rows["good.txt"]["new"] == 1 and rows["big.txt"]["new"] == 0
    assert "2 file(s) could not be read" in out.stderr


def test_a_dotenv_file_that_is_not_utf8_is_named(run: Run, db: str, tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes("MONITOR_LOG_LEVEL=INFO\n# café\n".encode("latin-1"))
    line = one_line_error(run("sources", "list", db=db, cwd=tmp_path))
    assert line == (
        f"monitor: error: {tmp_path / '.env'}: not UTF-8 text (byte 0xe9 at offset 28);"
        " save it as UTF-8"
    )


@contextmanager
def _answering_late() -> Iterator[tuple[int, threading.Event]]:
    """A local HTTP server that takes a request and does not answer it while the test
    runs: (its port, set when a request arrived)."""
    arrived, release = threading.Event(), threading.Event()

    class Hanging(http.server.BaseHTTPRequestHandler):
        def _hang(self) -> None:
            arrived.set()
            release.wait(60)
            self.send_response(500)
            self.end_headers()

        do_GET = do_POST = _hang

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hanging)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], arrived
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def _terminated(args: list[str], tmp_path: Path, arrived: threading.Event, **env: str) -> str:
    """``monitor args`` in a subprocess, sent SIGTERM once the server has its request;
    its stderr, after checking that it ended by the signal without a traceback."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    full |= {"PYTHONPATH": str(ROOT), "HOME": str(tmp_path), **env}
    full |= {"MONITOR_HTTP__ALLOW_NETWORKS": '["127.0.0.1/32"]', "MONITOR_HTTP__JITTER": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        cwd=tmp_path, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert arrived.wait(60), "the request never reached the server"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    # it ends by the signal once unwound (a shell shows 143): a service manager sees a stop
    assert proc.returncode == -signal.SIGTERM, text
    assert text.strip().splitlines()[-1] == "monitor: terminated" and "Traceback" not in text
    return text


def test_sigterm_to_a_poll_gives_its_leases_back(tmp_path: Path) -> None:
    """A service manager or `kill` ends `poll --once` mid-fetch: the command unwinds as on
    Ctrl-C (one line, then the signal's own end) and gives the source back, so that the
    next poll fetches it instead of skipping it until the lease expires."""
    sources, db = tmp_path / "sources.yaml", tmp_path / "poll.db"
    with _answering_late() as (port, arrived):
        sources.write_text(
            "sources:\n  - name: slow-wire\n"
            f"    url: http://127.0.0.1:{port}/feed.xml\n    kind: rss\n",
            encoding="utf-8",
        )
        _terminated(
            ["--db", str(db), "--sources", str(sources), "poll", "--once"], tmp_path, arrived
        )
    with sqlite3.connect(db) as conn:
        owner, until = conn.execute(
            "SELECT lease_owner, lease_until FROM source WHERE name = 'slow-wire'"
        ).fetchone()
    assert owner is None and until is None


def _rules_notifying_none(tmp_path: Path) -> Path:
    """A rules folder whose rules notify no channel of the shipped ones (none at all)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(ROOT / "rules" / "vocabulary.yaml", rules)
    return rules


def test_sigterm_to_a_dispatch_gives_its_messages_back(tmp_path: Path) -> None:
    """SIGTERM while a webhook hangs: the message the command claimed is given back at
    once (the next dispatch sends it), not held until its lease expires."""
    channels = tmp_path / "channels.yaml"
    channels.write_text(
        "channels:\n  - name: hook\n    type: webhook\n    url_env: HOOK_URL\n"
        "    schedule: '0 8 * * *'\n    send_empty: true\n",
        encoding="utf-8",
    )
    rules = _rules_notifying_none(tmp_path)
    db = tmp_path / "out.db"
    with _answering_late() as (port, arrived):
        args = ["--db", str(db), "--rules", str(rules), "--channels", str(channels)]
        _terminated(
            [*args, "digest", "send"], tmp_path, arrived, HOOK_URL=f"http://127.0.0.1:{port}/in"
        )
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status, lease_owner, lease_until FROM delivery").fetchall()
    assert rows and all(owner is None and until is None for _, owner, until in rows), rows


def test_a_term_pattern_that_runs_past_the_timeout_is_named_once(
    run: Run, db: str, tmp_path: Path
) -> None:
    """A vocabulary pattern that backtracks for ever on long text passes `rules check`
    (it is only slow): at run time it is skipped where it times out, and the operator is
    told once which family, instead of the model names it should find going missing
    without a word (RELIABILITY R3)."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules, symlinks=False)
    vocab = rules / "vocabulary.yaml"
    slow = "\\w*" * 12 + "X"
    text = vocab.read_text(encoding="utf-8").replace(
        "terms:\n", f"terms:\n  slow_models:\n    pattern: '{slow}'\n", 1
    )
    vocab.write_text(text, encoding="utf-8")
    assert run("--rules", str(rules), "rules", "check", db=None).returncode == 0
    # long words before the pattern's literal: every split of each is tried
    words = ("a" * 300 + " ") * 3 + "Alibaba Cloud revenue rose, said Xu."
    files = [write(tmp_path, f"a{i}.txt", f"Report {i}\n\n{words} {i}.") for i in range(3)]
    out = run("--rules", str(rules), "ingest", *map(str, files), db=db)
    assert out.returncode == 0, out.stderr
    said = [ln for ln in out.stderr.splitlines() if "'slow_models'" in ln]
    assert len(said) == 1 and "ran past the regex timeout" in said[0], out.stderr
    assert files[0].resolve().as_uri() in said[0]


def test_channels_check_names_a_url_the_senders_would_refuse(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook URL at a private or metadata address passed the check, then every message
    to it was dead-lettered as blocked_address. The check names the variable and the host,
    never the rest of the URL (a credential)."""
    path = tmp_path / "channels.yaml"
    path.write_text(
        "channels:\n  - name: meta\n    type: webhook\n    url_env: META_URL\n"
        "    immediate: high\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("META_URL", "https://169.254.169.254/hook/T0KEN")
    out = run("channels", "check", str(path), db=None)
    assert out.returncode == 1
    assert out.stdout.startswith(f"{path}:4:14: channels.0.url_env: META_URL points at 169.254")
    assert "T0KEN" not in out.stdout + out.stderr
    # refused for another cause than its address: that cause, not the address advice
    monkeypatch.setenv("META_URL", "https://desk:pw0rd@hooks.example.com/in")
    other = run("channels", "check", str(path), db=None)
    assert "META_URL holds a URL the senders refuse (userinfo in URL)" in other.stdout
    assert "ALLOW_NETWORKS" not in other.stdout and "pw0rd" not in other.stdout + other.stderr
    monkeypatch.setenv("META_URL", "https://169.254.169.254/hook/T0KEN")
    monkeypatch.setenv("MONITOR_HTTP__ALLOW_NETWORKS", '["169.254.169.254/32"]')
    rules = _rules_notifying_none(tmp_path)
    admitted = run("--rules", str(rules), "channels", "check", str(path), db=None)
    assert admitted.returncode == 0, admitted.stdout  # meant, and said so


def test_channels_check_names_an_email_channel_without_an_smtp_server(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without MONITOR_SMTP__HOST the check said "all valid"; then each digest to the
    channel was queued, retried for a day and dead-lettered."""
    path = tmp_path / "channels.yaml"
    path.write_text(
        "channels:\n  - name: desk\n    type: email\n    to: [a@example.com]\n"
        "    immediate: high\n",
        encoding="utf-8",
    )
    rules = _rules_notifying_none(tmp_path)
    monkeypatch.delenv("MONITOR_SMTP__HOST", raising=False)
    out = run("--rules", str(rules), "channels", "check", str(path), db=None)
    assert out.returncode == 1
    assert out.stdout.startswith(f"{path}:2:5: an email channel, but no SMTP server"), out.stdout
    monkeypatch.setenv("MONITOR_SMTP__HOST", "mail.example.com")
    fine = run("--rules", str(rules), "channels", "check", str(path), db=None)
    assert fine.returncode == 0, fine.stdout + fine.stderr


def test_an_internal_error_asks_for_the_traceback_only_without_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ "(run with -v)" was printed under the traceback -v had just printed."""
    from monitor.cli import _report

    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        raised = exc
    assert _report(raised, verbose=False) == 1
    quiet = capsys.readouterr().err
    assert quiet == "monitor: error: internal error: RuntimeError: boom (run with -v)\n"
    _report(raised, verbose=True)
    loud = capsys.readouterr().err
    assert "Traceback" in loud and loud.endswith("internal error: RuntimeError: boom\n")
