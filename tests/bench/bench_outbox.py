"""Outbox throughput: deliveries per second to a Slack-like server on 127.0.0.1.

N digest messages are queued in the outbox (SQLite file), then one dispatcher claims,
sends (through the real Slack notifier: SSRF guard, answer checks) and marks them, batch
after batch, as `monitor deliveries dispatch` does; Slack pacing is off (a loopback
server). The server is another process, so its CPU is not counted. The peer, in the same
run: bare httpx POSTs of the same bodies to the same server, one after another, no
database, no claims, no marks. CPU is this process's.
Usage: python tests/bench/bench_outbox.py [--n 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx
from pydantic import SecretStr

from monitor.app.digests import message_payload, queue
from monitor.app.outbox import Dispatcher
from monitor.notify.channels import Channel
from monitor.notify.compose import compose
from monitor.notify.digest import build_digest
from monitor.pipeline import Pipeline
from monitor.rules.loader import EMPTY
from monitor.settings import Settings
from monitor.store.db import make_engine, session_scope, upgrade
from tests.unit.digest_samples import morning

SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # one write per answer: no delayed-ACK stall between header and body
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    n = parser.parse_args().n
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    port = int(server.stdout.readline())
    url = f"http://127.0.0.1:{port}/services/T/B/x"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/outbox.db")
            upgrade(engine)
            channel = Channel(name="desk", type="slack", url=SecretStr(url), url_env="X")
            settings = Settings(
                http={"allow_networks": ["127.0.0.1/32"], "jitter": 0.0},
                slack={"min_interval": 0.0},
            )
            pipe = Pipeline(settings, engine, EMPTY, channels=(channel,))
            (message,) = compose(channel, build_digest(morning()), ref_id="1")
            bodies = [message_payload(message)] * n
            with session_scope(engine) as s:
                for i in range(n):
                    m = compose(channel, build_digest(morning()), ref_id=str(i))
                    queue(s, m, kind="digest", ref_id=i, now=pipe.clock())

            async def ours() -> int:
                d = Dispatcher(pipe)
                try:
                    return len((await d.drain()).outcomes)
                finally:
                    await d.aclose()

            t0, c0 = time.perf_counter(), time.process_time()
            sent = asyncio.run(ours())
            ours_wall, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
            assert sent == n

            async def peer() -> None:
                async with httpx.AsyncClient() as client:
                    for b in bodies:
                        r = await client.post(url, json=b["payload"])
                        assert r.text == "ok"

            t0, c0 = time.perf_counter(), time.process_time()
            asyncio.run(peer())
            peer_wall, peer_cpu = time.perf_counter() - t0, time.process_time() - c0
            engine.dispose()
    finally:
        server.kill()
        server.wait()
    load = os.getloadavg()[0]
    print(f"outbox: {n} Slack messages to a loopback server; load average {load:.1f} on 2 cores")
    print(f"{'path':<52} {'msg/s (wall)':>13} {'msg/CPU-s':>10} {'CPU ms/msg':>11}")
    for name, wall, cpu in (
        ("ours: claim, send (guard, checks), mark; SQLite", ours_wall, ours_cpu),
        ("peer: bare httpx POSTs of the same bodies", peer_wall, peer_cpu),
    ):
        print(f"{name:<52} {n / wall:>13,.0f} {n / cpu:>10,.0f} {cpu * 1000 / n:>11.2f}")


if __name__ == "__main__":
    main()
