"""The command line contract: exit codes, JSON on stdout only, located rule errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest

from monitor.demo_server import serve_directory
from tests.conftest import ROOT, RULES, SHARED
from tests.integration.conftest import Result


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }

    def entry(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=120,
        )

    ok = entry("--help")
    assert ok.returncode == 0 and "ingest" in ok.stdout
    bad = entry("frobnicate")
    assert bad.returncode == 2 and "No such command 'frobnicate'" in bad.stderr
    version = entry("--version")
    assert version.returncode == 0 and version.stdout.startswith("monitor ")


def test_help_imports_no_library_it_does_not_use(tmp_path: Path) -> None:
    """`monitor --help` stays a click program: the database, HTTP, numeric and event-loop
    libraries, and importlib.metadata (only `--version` reads the version), load only in
    the commands that use them (issue 16: start-up)."""
    heavy = ("asyncio", "importlib.metadata", "sqlalchemy", "pydantic", "httpx", "numpy")
    code = (
        "import sys\nfrom monitor.cli import main\nmain(['--help'])\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: monitor" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_listing_loads_only_its_command_and_tables(tmp_path: Path) -> None:
    """`monitor stories list` loads the module of its own command, not the other eight
    (~25 ms), and declares the four tables of ``monitor.models.articles``, not the
    thirteen others (~4 ms each of the command's start)."""
    code = (
        "import sys\nfrom monitor.cli import main\nmain(['stories', 'list'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('monitor.models.')"
        " or m.endswith('_cmds')))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    subprocess.run(
        [sys.executable, "-m", "monitor", "db", "upgrade"], cwd=ROOT, env=env, check=True
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(
        ["monitor.cli.data_cmds", "monitor.models.articles", "monitor.models.columns"]
    )


def test_ingest_of_files_loads_no_polling_and_no_http_client(tmp_path: Path) -> None:
    """`monitor ingest` of local files runs the pipeline's stages without the feed
    polling flow and the HTTP client under it (~0.3 G instructions of its start, ~0.1 s)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(
        "Acme plans $53 billion\n\nAcme said on Monday it will spend $53 billion on cloud"
        " and AI infrastructure over the next three years, its largest plan so far.\n"
    )
    code = (
        f"import sys\nfrom monitor.cli import main\nmain(['ingest', {str(folder / 'a.txt')!r}])\n"
        "print(sorted(m for m in ('httpx', 'monitor.app.polling', 'monitor.fetch.client')"
        " if m in sys.modules))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "1 new" in done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_every_command_is_loaded_from_the_module_that_declares_it() -> None:
    """``root.MODULES`` names every command and the module that declares it: a command
    missing from it would be unknown to every run but `monitor --help`."""
    from monitor.cli.root import MODULES, root

    ctx = click.Context(root)
    for name in MODULES:  # as `monitor --help` asks for each of them
        root.get_command(ctx, name)
    assert set(root.commands) == set(MODULES)
    for name, cmd in root.commands.items():
        callbacks = [cmd.callback]
        if isinstance(cmd, click.Group):  # a group's callback is made in root.group()
            callbacks = [c.callback for c in cmd.commands.values()]
        assert {f.__module__ for f in callbacks if f} == {f"monitor.cli.{MODULES[name]}"}, name


def test_help_lists_the_commands(run: Callable[..., Result], db: str) -> None:
    out = run("--help", db=db)
    assert out.returncode == 0
    for command in ("demo", "ingest", "poll", "stories", "facts", "alerts", "digest", "rules"):
        assert command in out.stdout


def test_bad_usage_exits_2(run: Callable[..., Result], db: str) -> None:
    assert run("frobnicate", db=db).returncode == 2
    assert run("stories", "--limit", "many", db=db).returncode == 2


def test_missing_file_is_a_one_line_error(run: Callable[..., Result], db: str) -> None:
    out = run("ingest", "/nonexistent/article.txt", db=db)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        "monitor: error: /nonexistent/article.txt: no such file or folder"
    )


def test_ingest_then_list_as_json(run: Callable[..., Result], db: str, tmp_path: Path) -> None:
    shared = sorted((SHARED / "seeds").glob("*.txt"))
    if not shared:
        pytest.skip(f"{SHARED / 'seeds'} is absent (the shared folder sits beside the repo)")
    out = run("ingest", *map(str, shared), db=db)
    assert out.returncode == 0, out.stderr
    stories = run("stories", "--json", db=db)
    assert stories.returncode == 0, stories.stderr
    parsed = json.loads(stories.stdout)  # exactly one JSON document on stdout
    assert isinstance(parsed, list) and parsed
    members = [m for s in parsed for m in s["members"]]
    assert len(members) == len(shared)
    assert all(m["url"].startswith("file://") for m in members)
    facts = run("facts", "--json", db=db)
    assert facts.returncode == 0, facts.stderr
    rows = json.loads(facts.stdout)
    capex = {(r["value"], r["currency"]) for r in rows if r.get("metric") == "ai_capex_plan"}
    assert (53e9, "USD") in capex and (380e9, "CNY") in capex
    assert all(r["quote"] for r in rows)
    again = run("ingest", *map(str, shared), db=db)  # idempotent: nothing new
    assert again.returncode == 0 and " 0 new" in again.stderr


def test_rules_check_reports_a_misspelt_key_with_its_location(
    run: Callable[..., Result], db: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n"
        "  - id: capex\n"
        "    when: {change: {entity: alibaba, metric: ai_capex_plan, by: 2%}}\n"
        "    severty: high\n",
        encoding="utf-8",
    )
    # the rule refers to the shipped vocabulary, so check the folder holding both
    (tmp_path / "vocabulary.yaml").write_text(
        (RULES / "vocabulary.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    out = run("rules", "check", str(tmp_path), db=db)
    assert out.returncode == 1
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith(str(bad))]
    assert lines and lines[0].startswith(f"{bad}:4:5: ")
    assert "severty" in lines[0] and "severity" in lines[0]  # did you mean


def test_shipped_rules_are_valid(run: Callable[..., Result], db: str) -> None:
    out = run("rules", "check", db=db)
    assert out.returncode == 0, out.stdout + out.stderr


def _local_sources(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "sources.yaml"
    text = (ROOT / "seeds" / "sources.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("http://127.0.0.1:8765/", base_url), encoding="utf-8")
    return path


def test_poll_sources_check_and_list(
    run: Callable[..., Result], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_HTTP__ALLOW_NETWORKS", '["127.0.0.1/32"]')
    monkeypatch.setenv("MONITOR_HTTP__JITTER", "0")
    with serve_directory(ROOT / "seeds") as base_url:
        sources = str(_local_sources(tmp_path, base_url))
        check = run("--sources", sources, "sources", "check", "ainvest-wire-atom", "--json", db=db)
        assert check.returncode == 0, check.stderr
        items = json.loads(check.stdout)
        assert len(items) == 5 and all(i["ai_generated"] for i in items)
        listed = run("--sources", sources, "sources", "list", "--json", db=db)
        assert json.loads(listed.stdout) == []  # check stored nothing, not even the source
        polled = run("--sources", sources, "poll", "--once", db=db)
        assert polled.returncode == 0, polled.stderr
    rows = json.loads(run("sources", "list", "--json", db=db).stdout)
    assert {r["name"] for r in rows} == {"ainvest-markets-rss", "ainvest-wire-atom", "ainvest-site"}
    assert all(r["last_poll_at"] and r["error_count"] == 0 and r["items"] == 5 for r in rows)
    unknown = run("--sources", sources, "sources", "check", "nope", db=db)
    assert unknown.returncode == 1 and "no source 'nope'" in unknown.stderr
    # a source another worker is polling (a daemon beside the command) is left to it,
    # and said: it was skipped in silence
    from monitor.store import sources as sources_store
    from monitor.store.db import make_engine, session_scope

    engine = make_engine(db)
    with session_scope(engine) as s:
        claimed = sources_store.claim_due(
            s, worker="daemon-1", now=datetime.now(UTC), lease_s=600, limit=1, include_not_due=True
        )
    engine.dispose()
    (held,) = (c.name for c in claimed)
    with serve_directory(ROOT / "seeds") as base_url:
        sources = str(_local_sources(tmp_path, base_url))
        again = run("--sources", sources, "poll", "--once", "--json", db=db)
        text = run("--sources", sources, "poll", "--once", db=db)
    assert again.returncode == 0, again.stderr
    rows = {r["source"]: r for r in json.loads(again.stdout)}
    assert len(rows) == 3 and rows[held]["polled_by"] == "daemon-1" and rows[held]["lease_until"]
    assert sum(r["polled_by"] is None for r in rows.values()) == 2
    assert f"{held}: skipped, being polled by daemon-1 (lease until " in text.stderr


def test_sources_check_warns_of_a_selector_that_matches_nothing_on_a_sample_page(
    run: Callable[..., Result], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RELIABILITY R4: an article-page selector copied wrong (or a layout that changed)
    passed the check silently, the part falling back to the page's metadata. The check
    fetches the first article page and names each selector that matches nothing there."""
    monkeypatch.setenv("MONITOR_HTTP__ALLOW_NETWORKS", '["127.0.0.1/32"]')
    monkeypatch.setenv("MONITOR_HTTP__JITTER", "0")
    with serve_directory(ROOT / "seeds") as base_url:
        path = _local_sources(tmp_path, base_url)
        good = run("--sources", str(path), "sources", "check", "ainvest-site", db=db)
        assert good.returncode == 0, good.stderr
        assert "matched nothing" not in good.stderr  # the shipped selectors all match
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace('author: ".byline .author"', 'author: ".by-line"'), "utf-8")
        bad = run("--sources", str(path), "sources", "check", "ainvest-site", db=db)
    assert bad.returncode == 0, bad.stderr
    said = [ln for ln in bad.stderr.splitlines() if "matched nothing" in ln]
    assert len(said) == 1 and said[0].startswith(
        "warning: selector author '.by-line' matched nothing on the sample page http://"
    )
    assert said[0].endswith(": the author comes from the page's metadata, if any")


def test_sources_check_does_not_read_an_error_page_as_the_sample(
    run: Callable[..., Result], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample page was read whatever its status: a 503 page "matched nothing" for
    every selector. An error status is said as such."""
    import http.server
    import threading

    site = ROOT / "seeds" / "site"
    served: dict[str, int] = {}

    class OnceThenBusy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served[self.path] = served.get(self.path, 0) + 1
            busy = "/articles/" in self.path and served[self.path] > 1
            body = b"<html><body>busy</body></html>" if busy else (
                site / self.path.lstrip("/")).read_bytes()  # fmt: skip
            self.send_response(503 if busy else 200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OnceThenBusy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MONITOR_HTTP__ALLOW_NETWORKS", '["127.0.0.1/32"]')
    monkeypatch.setenv("MONITOR_HTTP__JITTER", "0")
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - name: site\n"
        f"    url: http://127.0.0.1:{server.server_address[1]}/index.html\n"
        "    kind: html\n    selectors:\n      items: 'article.teaser h2 a'\n"
        "      title: 'h1.headline'\n      author: '.byline .author'\n",
        encoding="utf-8",
    )
    try:
        out = run("--sources", str(path), "sources", "check", "site", db=db)
    finally:
        server.shutdown()
        server.server_close()
    assert out.returncode == 0, out.stderr
    assert "matched nothing" not in out.stderr
    assert "could not be fetched to check the selectors: http_status" in out.stderr


def test_rules_test_replays_without_storing(
    run: Callable[..., Result], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_HTTP__ALLOW_NETWORKS", '["127.0.0.1/32"]')
    with serve_directory(ROOT / "seeds") as base_url:
        sources = str(_local_sources(tmp_path, base_url))
        assert run("--sources", sources, "poll", "--once", db=db).returncode == 0
    stored = json.loads(run("alerts", "--json", db=db).stdout)
    replay = run("rules", "test", "--json", db=db)
    assert replay.returncode == 0, replay.stderr
    would = json.loads(replay.stdout)
    assert {a["rule"] for a in would} == {a["rule"] for a in stored}
    assert any(a["rule"] == "alibaba-capex-change" for a in would)
    assert len(json.loads(run("alerts", "--json", db=db).stdout)) == len(stored)
    text = run("rules", "test", db=db)
    assert "would fire" in text.stdout and "evidence:" in text.stdout
    # no rule to run is no result: nothing on stdout ("no alert would fire" was printed)
    missing = run("rules", "test", str(tmp_path / "alibab.yaml"), db=db)
    assert missing.returncode == 1 and missing.stdout == ""
    assert "alibab.yaml:1:1: no such file" in missing.stderr
    # --days N is --since N days ago: every stored article is within 100 years
    assert run("rules", "test", "--json", "--days", "36500", db=db).stdout == replay.stdout
    # ... and without --json it prints the digest of those days with the replay's alerts
    # (RELIABILITY R5), those of the rules given, not those stored
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    for extra in rules.glob("*.yaml"):
        if extra.name != "vocabulary.yaml":
            extra.unlink()
    (rules / "only.yaml").write_text(
        "rules:\n  - id: only-qwen\n    when: {new_term: qwen_models}\n    severity: high\n",
        encoding="utf-8",
    )
    days = run("--rules", str(rules), "rules", "test", "--days", "36500", db=db)
    assert days.returncode == 0, days.stderr
    digest = days.stdout.split("The digest they would make:", 1)[1]
    assert "== ALIBABA [HIGH] ==" in digest and "Qwen3-Max" in digest
    assert "alibaba-capex-change" not in digest and "RMB 380 billion" in digest  # a fact
    # the digest's stories are those of the days' news, as the replay's alerts are: the
    # seeds, dated months ago and polled just now, are not news of the last 30 days
    recent = run("--rules", str(rules), "rules", "test", "--days", "30", db=db)
    assert "0 stories" in recent.stdout and "Qwen3-Max" not in recent.stdout, recent.stdout
    assert "The digest they would make:" not in run("rules", "test", db=db).stdout  # all history
    assert run("rules", "test", "--days", "3", "--since", "2025-01-01", db=db).returncode == 2


def test_rules_test_runs_one_saved_file_and_touches_no_database(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    """RELIABILITY R5: `rules test --data FILE` runs the rules over a saved feed alone and
    prints the alerts and the digest they would make; the database in use is not opened."""
    db = tmp_path / "never.db"
    feed = ROOT / "seeds" / "feeds" / "markets.rss"
    out = run("rules", "test", "--data", str(feed), db=f"sqlite:///{db}")
    assert out.returncode == 0, out.stderr
    assert "alert(s) would fire" in out.stdout and "New Qwen model: Qwen3-Max" in out.stdout
    digest = out.stdout.split("The digest they would make:", 1)[1]
    assert "What changed" in digest and "== ALIBABA [HIGH] ==" in digest
    as_json = json.loads(run("rules", "test", "--data", str(feed), "--json", db=None).stdout)
    assert {"new-qwen-model", "alibaba-chip-export-controls"} <= {a["rule"] for a in as_json}
    assert not db.exists()
    with_data = run("rules", "test", "--schema-only", "--data", str(feed), db=None)
    assert with_data.returncode == 2 and "--schema-only reads no articles" in with_data.stderr
    both = run("rules", "test", "--data", str(feed), "--days", "3", db=None)
    assert both.returncode == 2 and "--data runs the rules over FILE alone" in both.stderr


def test_rules_test_schema_only_checks_the_files_and_reads_no_articles(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    db = tmp_path / "never.db"
    ok = run("rules", "test", "--schema-only", db=f"sqlite:///{db}")
    assert ok.returncode == 0 and "file(s), all valid" in ok.stderr  # as `rules check` says
    broken = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", broken)
    (broken / "x.yaml").write_text("rules:\n  - id: x\n    when: {new_term: nope}\n", "utf-8")
    bad = run("--rules", str(broken), "rules", "test", "--schema-only", db=f"sqlite:///{db}")
    assert bad.returncode == 1
    assert (
        bad.stdout.startswith(f"{broken / 'x.yaml'}:3:") and "undefined term family" in bad.stdout
    )
    assert not db.exists()


def test_mistakes_are_one_line_errors_not_tracebacks(
    run: Callable[..., Result], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_url = run("--db", "nosuchdb://host/x", "alerts", db=db)
    assert bad_url.returncode == 1 and "Traceback" not in bad_url.stderr
    assert bad_url.stderr.strip().startswith("monitor: error: bad database URL 'nosuchdb:")
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("these are not the tables you are looking for\n" * 100)
    garbage = run("--db", f"sqlite:///{not_a_db}", "alerts", db=db)
    assert garbage.returncode == 1 and "cannot open database" in garbage.stderr
    for usage in (
        ("stories", "show"),
        ("poll",),
        ("sources", "check"),
        ("alerts", "--since", "soon"),
    ):
        out = run(*usage, db=db)
        assert out.returncode == 2, usage
        assert "Traceback" not in out.stderr
    unwritable = run("digest", "--preview", "--html", str(tmp_path / "no" / "x.html"), db=db)
    assert unwritable.returncode == 1 and "cannot write" in unwritable.stderr
    monkeypatch.setenv("MONITOR_LOG_LEVEL", "chatty")
    level = run("alerts", db=db)
    assert level.returncode == 1 and "setting MONITOR_LOG_LEVEL" in level.stderr


def test_facts_filters_apply_to_terms_and_topics(run: Callable[..., Result], db: str) -> None:
    pages = sorted((ROOT / "seeds" / "site" / "articles").glob("*.html"))
    assert run("ingest", *map(str, pages), db=db).returncode == 0
    rows = json.loads(run("facts", "--json", db=db).stdout)
    assert {r["kind"] for r in rows} == {"fact", "term", "topic"}
    assert "Qwen3-Omni" in {r["value"] for r in rows if r["kind"] == "term"}
    none = json.loads(run("facts", "--json", "--entity", "nosuchentity", db=db).stdout)
    assert none == []
    capex = json.loads(run("facts", "--json", "--metric", "ai_capex_plan", db=db).stdout)
    assert capex and {r["kind"] for r in capex} == {"fact"}
    assert len(json.loads(run("facts", "--json", "--limit", "3", db=db).stdout)) == 3


def test_echo_keeps_json_stdout_clean(
    run: Callable[..., Result], db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_DATABASE__ECHO", "true")
    out = run("alerts", "--json", db=db)
    assert out.returncode == 0 and json.loads(out.stdout) == []


def test_health_reports_failing_sources(
    run: Callable[..., Result], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_HTTP__ALLOW_NETWORKS", '["127.0.0.1/32"]')
    with serve_directory(ROOT / "seeds") as base_url:
        sources = _local_sources(tmp_path, base_url)
        assert run("--sources", str(sources), "poll", "--once", db=db).returncode == 0
    healthy = run("health", "--json", db=db)
    report = json.loads(healthy.stdout)[0]
    assert healthy.returncode == 0 and report["healthy"] and report["sources"] == 3
    assert report["revision"] is not None
    # the server is gone now: the next poll fails and health says which source
    broken = sources.read_text(encoding="utf-8").replace("feeds/wire.atom", "feeds/gone.atom")
    sources.write_text(broken, encoding="utf-8")
    assert run("--sources", str(sources), "poll", "--once", db=db).returncode == 1
    sick = run("health", db=db)
    assert sick.returncode == 1 and "ainvest-wire-atom" in sick.stdout


def test_demo_leaves_the_configured_database_alone(
    run: Callable[..., Result], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`monitor demo` polls into a database of its own: with MONITOR_DATABASE_URL set (an
    operator's real one), the demo's sources file must not become that database's list of
    sources, nor its articles mix in."""
    monkeypatch.setenv("MONITOR_HTTP__ALLOW_NETWORKS", '["127.0.0.1/32"]')
    with serve_directory(ROOT / "seeds") as base_url:
        sources = _local_sources(tmp_path, base_url)
        # the operator's own sources: names the demo's sources file does not hold
        sources.write_text(sources.read_text("utf-8").replace("ainvest-", "desk-"), "utf-8")
        assert run("--sources", str(sources), "poll", "--once", db=db).returncode == 0
    before = json.loads(run("sources", "--json", db=db).stdout)
    stories_before = run("stories", "--json", db=db).stdout
    assert before and all(s["active"] for s in before)

    demo = run("demo", db=db)
    assert demo.returncode == 0, demo.stderr
    assert json.loads(run("sources", "--json", db=db).stdout) == before
    assert run("stories", "--json", db=db).stdout == stories_before
    shown = next(ln for ln in demo.stderr.splitlines() if ln.startswith("database: "))
    assert "monitor-demo-" in shown and str(tmp_path / "cli.db") not in shown


def test_the_demo_on_a_database_with_a_password_hints_at_the_option_not_a_mask(
    run: Callable[..., Result], pg_url: str
) -> None:
    """`demo --db URL` with a password: the hints to browse it printed the masked URL,
    which does not open. They name the option instead; the password is never printed."""
    url = pg_url.replace("://postgres@", "://postgres:s3cret@", 1)
    assert "s3cret" in url  # trust authentication takes any password
    demo = run("--db", url, "demo", db=None)
    assert demo.returncode == 0, demo.stderr
    assert "s3cret" not in demo.stderr + demo.stdout
    assert "browse it: monitor --db URL (your --db) stories" in demo.stderr
    assert "monitor serve --db URL (your --db)" in demo.stderr


def test_a_database_url_is_printed_without_its_password() -> None:
    from monitor.cli.base import shown_database

    shown = shown_database("postgresql+psycopg://desk:s3cret@db.internal:5432/monitor")
    assert (
        shown is not None
        and "s3cret" not in shown
        and shown.startswith("postgresql+psycopg://desk:***@db.internal")
    )
    assert shown_database("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert shown_database("not a url") is None


def test_rules_test_lets_a_daemon_write_while_it_reads_and_replays(
    run: Callable[..., Result], seeded_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rules test` over a long history took SQLite's write lock for the whole read and
    replay (its transaction began IMMEDIATE), so a daemon writing to the same file failed
    with "database is locked" after its busy timeout. It now reads in a read-only,
    deferred transaction, and replays after that transaction ends (a PostgreSQL session
    idle in a transaction is ended after a minute). A writer that does not wait at all
    gets in during both, and the replay holds no transaction open."""
    import sqlite3

    from monitor.app import evaluation

    path = seeded_copy.removeprefix("sqlite:///")
    wrote: list[str] = []

    def write(when: str) -> None:
        con = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("CREATE TABLE IF NOT EXISTS probe (x)")
            con.execute("INSERT INTO probe VALUES (?)", (when,))
            con.execute("COMMIT")
            # a transaction still open (a reader's snapshot) keeps the log from being
            # emptied: busy is 1
            busy = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            wrote.append(f"{when}, {'in' if busy else 'after'} a transaction")
        finally:
            con.close()

    from monitor.rules.engine import evaluate as replayed

    gather = evaluation.gather_input

    def gather_input(*args: Any, **kwargs: Any) -> Any:
        got = gather(*args, **kwargs)
        write("reading")  # its transaction still open
        return got

    def evaluate(*args: Any, **kwargs: Any) -> Any:
        write("replaying")
        return replayed(*args, **kwargs)

    monkeypatch.setattr(evaluation, "gather_input", gather_input)
    monkeypatch.setattr(evaluation, "evaluate", evaluate)
    got = run("rules", "test", "--days", "36500", db=seeded_copy)
    assert got.returncode == 0, got.stderr
    assert "would fire" in got.stdout and "The digest they would make:" in got.stdout
    assert wrote == ["reading, in a transaction", "replaying, after a transaction"]


def test_rules_test_since_the_first_date_there_is(
    run: Callable[..., Result], seeded_copy: str
) -> None:
    """The replay reads a year before --since: from 0001-01-02 that was before the first
    date there is, an internal OverflowError (the web view's backtest too). It reads
    from the beginning of history instead."""
    got = run("rules", "test", "--json", "--since", "0001-01-02", db=seeded_copy)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == json.loads(
        run("rules", "test", "--json", db=seeded_copy).stdout
    )


def test_json_stays_utf8_with_a_file_name_that_is_not(tmp_path: Path) -> None:
    """A file name that is not UTF-8 made `ingest --json` write a raw byte (invalid JSON)
    under a UTF-8 locale, or end in a UnicodeEncodeError after storing with
    PYTHONIOENCODING=utf-8. In a process of its own, as a shell runs it."""
    import os

    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsencode(folder) + b"/caf\xe9.txt"
    with open(name, "wb") as f:
        f.write(b"Odd\n\nAlibaba plans to invest 12.5 billion yuan.\n")
    for encoding in (None, "utf-8"):
        env = {**os.environ, "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
        if encoding:
            env["PYTHONIOENCODING"] = encoding
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "--rules", str(RULES), "ingest", "-r",
             str(folder), "--json"],
            capture_output=True, env=env, cwd=ROOT, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        (row,) = json.loads(done.stdout.decode("utf-8"))
        assert row["file"].endswith("caf\ufffd.txt")


def test_listings_read_while_another_process_writes(
    run: Callable[..., Result], seeded_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command began its transactions IMMEDIATE, the schema check included: while
    a daemon held the write lock, a listing failed with "database is locked" after the
    busy timeout, and the check's timeout was taken for an old schema ("database
    upgraded ... 0 migration(s) applied"). Listings read as any WAL reader does."""
    import sqlite3

    monkeypatch.setenv("MONITOR_DATABASE__BUSY_TIMEOUT_MS", "200")
    writer = sqlite3.connect(seeded_copy.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE held (x)")
    try:
        for command in (
            ["stories", "list", "--json"],
            ["stories", "show", "3", "--json"],
            ["facts", "--json"],
            ["alerts", "--json"],
            ["deliveries", "list", "--json"],
            ["digest", "list", "--json"],
            ["sources", "list", "--json"],
            ["health", "--json"],
        ):
            got = run(*command, db=seeded_copy)
            assert got.returncode in (0, 1) and json.loads(got.stdout) is not None, command
            assert "locked" not in got.stderr and "upgraded" not in got.stderr, got.stderr
    finally:
        writer.execute("ROLLBACK")
        writer.close()
