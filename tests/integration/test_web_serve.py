"""``python -m monitor serve`` as an operator runs it: it says where it is once it listens,
and a backtest from the form is replayed in the view's worker process (started from the
server, not from a test runner) and its result page shows it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import httpx

from tests.conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_runs_a_backtest_in_its_worker_and_shows_the_result(seeded_copy: str) -> None:
    port = _free_port()
    env = {**os.environ, "MONITOR_DATABASE_URL": seeded_copy}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "serve", "--address", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # blocks until the server says where it is
            if "web view on" in line:
                break
        else:
            raise AssertionError(f"serve ended ({proc.wait()}) before listening")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            page = c.get("/rules")
            page.raise_for_status()
            token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
            assert token
            form = {"csrf": token.group(1), "rule": "alibaba-capex-change", "since": ""}
            r = c.post("/rules/backtest", data={**form, "until": ""})
            assert r.status_code == 303
            heading = ""
            for _ in range(600):  # each answer waits up to 0.1 s for the replay
                got = c.get(r.headers["location"].split("#")[0])
                found = re.search(r"<h3[^>]*>(.*?)</h3>", got.text, re.S)
                assert found, got.text[:300]
                heading = found.group(1)
                if "running" not in heading:
                    break
            assert "would have fired" in heading, heading
            assert '<div class="draft">' in got.text
        assert proc.poll() is None  # the worker did not start a second server and stop it
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
