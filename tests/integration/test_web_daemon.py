"""``monitor run --web``: the daemon serves the view, here on the address of its probes."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.conftest import SEEDS
from tests.integration.test_daemon_ops import _env, daemon, free_port, sources_file, wait_for


def test_the_daemon_serves_the_view_beside_its_probes_with_a_token(tmp_path: Path) -> None:
    from monitor.demo_server import serve_directory

    db = f"sqlite:///{tmp_path / 'web.db'}"
    address = f"127.0.0.1:{free_port()}"
    seen: list[str] = []
    with serve_directory(SEEDS) as base:
        env = _env(
            db, tmp_path, MONITOR_SOURCES_FILE=str(sources_file(tmp_path, base)),
            MONITOR_WEB__TOKEN="daemon-token",
        )  # fmt: skip
        with daemon(env, tmp_path, "--metrics-address", address, "--web", address) as (proc, log):
            line = wait_for(log, "web view on", seen)
            assert "a token is required" in line and address in line
            wait_for(log, "poll ainvest-site:", seen)  # something to show
            with httpx.Client(base_url=f"http://{address}", timeout=10) as client:
                assert client.get("/healthz").text == "ok\n"  # probes need no token
                assert "monitor_polls_total" in client.get("/metrics").text
                assert client.get("/").status_code == 303  # the view does
                auth = {"authorization": "Bearer daemon-token"}
                page = client.get("/", headers=auth)
                assert page.status_code == 200 and "Stories, newest first" in page.text
                stories = client.get("/api/stories", headers=auth).json()
                assert stories and all("members" in s for s in stories)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
