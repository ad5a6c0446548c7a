"""One daemon, many sources, a large database: memory, idle CPU, a full cycle, and the time
from a new item on a feed to its Slack delivery.

Setup: an SQLite file holding N stored articles (bulk-loaded as ``bench_dedup`` does, band
index included), a feed server in another process serving S small RSS feeds with ETags
(a second poll of an unchanged feed is a 304, as on the web), a Slack-like receiver, and
`monitor run` as its own process, every source polled every ``--interval`` seconds.

Measured:
* the first cycle (from the daemon's start until every feed has been fetched once: every
  item is new, stored, extracted and placed) and the second (until every feed has been
  fetched again: unchanged feeds answer 304), with the CPU time of an unchanged poll;
* resident memory after the cycle (VmRSS) and its peak (VmHWM);
* CPU while idle between polls: the daemon's CPU over 30 s after the first cycle, when no
  source is due (the interval is longer than the cycle; the feed server counts the polls
  that fell in the window all the same), as a share of one core;
* publication to delivery: one feed publishes an item naming a new model (an immediate,
  high alert routed to Slack); the time until the receiver has it.
Targets (issue 14): < 200 MB resident, < 2% of one core idle, publication to delivery
< 2 x the poll interval + 5 s. Peer in the same run: the resident memory of a bare
Python process that imports monitor's stages.
Usage: python tests/bench/bench_daemon.py [--sources 10000] [--stored 1000000]
       [--interval 900] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.demo_sinks import slack_receiver  # noqa: E402
from monitor.store.db import make_engine, upgrade  # noqa: E402
from tests.bench.bench_dedup import bulk_load  # noqa: E402

SERVER = r"""
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
n = int(sys.argv[1])
published = set()
seen = set()
fetches = [0]
lock = threading.Lock()
def body(i):
    item = ""
    if i in published:
        item = ("<item><title>Alibaba releases Qwen9.{0}-Max</title><link>http://news.test/"
                "{0}/launch</link><guid>launch-{0}</guid><description>Alibaba released "
                "Qwen9.{0}-Max on Thursday, a model it says writes code faster than the one "
                "before it, and cut the price of its cloud access for developers."
                "</description></item>").format(i)
    return ("<?xml version='1.0'?><rss version='2.0'><channel><title>feed {0}</title>"
            "<link>http://feeds.test/{0}</link><description>d</description>"
            "<item><title>Market note {0}</title><link>http://news.test/{0}/note</link>"
            "<guid>note-{0}</guid><description>Shares moved little on a quiet day for "
            "desk {0}.</description></item>{1}</channel></rss>").format(i, item).encode()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1
    def do_GET(self):
        if self.path == "/stats":
            with lock:
                data = json.dumps({"seen": len(seen), "fetches": fetches[0]}).encode()
            return self.reply(200, data, {})
        if self.path.startswith("/publish/"):
            with lock:
                published.add(int(self.path.rsplit("/", 1)[1]))
            return self.reply(200, b"ok", {})
        i = int(self.path.split("/")[2].split(".")[0])
        with lock:
            seen.add(i)
            fetches[0] += 1
        etag = '"v%d-%d"' % (i, i in published)
        if self.headers.get("If-None-Match") == etag:
            return self.reply(304, b"", {"ETag": etag})
        self.reply(200, body(i), {"ETag": etag, "Content-Type": "application/rss+xml"})
    def reply(self, status, data, headers):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print(s.server_address[1], flush=True)
s.serve_forever()
"""

RULE = """rules:
  - id: new-model
    when: {new_term: qwen_models}
    severity: high
    notify: [desk-slack]
"""
CHANNELS = """channels:
  - {name: desk-slack, type: slack, url_env: BENCH_SLACK_URL, immediate: high}
"""


def proc_stat(pid: int) -> tuple[float, int, int]:
    """CPU seconds (user + system), VmRSS and VmHWM in bytes."""
    cpu, kb = cpu_and_memory(pid)
    return cpu, kb["VmRSS"] * 1024, kb["VmHWM"] * 1024


def cpu_and_memory(pid: int) -> tuple[float, dict[str, int]]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    status = Path(f"/proc/{pid}/status").read_text()
    kb = {
        ln.split(":")[0]: int(ln.split()[1])
        for ln in status.splitlines()
        if ln.startswith(("Vm", "Rss"))
    }
    return cpu, kb


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        data: bytes = r.read()
        return data


def peer_rss() -> int:
    """Resident memory of a bare process that has imported what the daemon imports."""
    code = (
        "import monitor.daemon, monitor.cli, pathlib;"
        "s = pathlib.Path('/proc/self/status').read_text();"
        "print([l for l in s.splitlines() if l.startswith('VmRSS')][0].split()[1])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ,
        "PYTHONPATH": str(ROOT)}, check=True,
    )  # fmt: skip
    return int(out.stdout.strip()) * 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--stored", type=int, default=1_000_000)
    # longer than the first cycle, so that an idle stretch follows it (a feed polled every
    # 15 minutes, a common choice)
    parser.add_argument("--interval", type=float, default=900.0)
    parser.add_argument("--quick", action="store_true", help="2,000 sources, 100k stored, 240 s")
    parser.add_argument(
        "--set", action="append", default=[], metavar="MONITOR_X=V", help="a setting of the daemon"
    )
    args = parser.parse_args()
    if args.quick:
        args.sources, args.stored, args.interval = 2_000, 100_000, 240.0
    tmp = Path(tempfile.mkdtemp(prefix="bench-daemon-"))
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.sources)], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    port = int(server.stdout.readline())
    base = f"http://127.0.0.1:{port}"
    try:
        db = tmp / "monitor.db"
        t0 = time.perf_counter()
        engine = make_engine(f"sqlite:///{db}")
        upgrade(engine)
        engine.dispose()
        bulk_load(str(db), args.stored, [], [])
        load_s = time.perf_counter() - t0
        rules = tmp / "rules"
        rules.mkdir()
        shutil.copy(ROOT / "rules" / "vocabulary.yaml", rules / "vocabulary.yaml")
        (rules / "models.yaml").write_text(RULE)
        (tmp / "channels.yaml").write_text(CHANNELS)
        interval = f"{int(args.interval)}s"
        (tmp / "sources.yaml").write_text(
            "sources:\n"
            + "".join(
                f"  - {{name: f{i}, url: '{base}/feed/{i}.rss', kind: rss, interval: {interval}}}\n"
                for i in range(args.sources)
            )
        )
        with slack_receiver() as (slack_url, posts):
            env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
            env.update(
                PYTHONPATH=str(ROOT),
                HOME=str(tmp),
                MONITOR_DATABASE_URL=f"sqlite:///{db}",
                MONITOR_RULES__DIR=str(rules),
                MONITOR_SOURCES_FILE=str(tmp / "sources.yaml"),
                MONITOR_CHANNELS_FILE=str(tmp / "channels.yaml"),
                BENCH_SLACK_URL=slack_url,
                MONITOR_HTTP__ALLOW_NETWORKS='["127.0.0.1/32"]',
                MONITOR_HTTP__PER_HOST="32",
                MONITOR_HTTP__JITTER="0",
                MONITOR_SLACK__MIN_INTERVAL="0",
                MONITOR_LOG_LEVEL="WARNING",
            )
            env.update(dict(kv.split("=", 1) for kv in args.set))
            daemon = subprocess.Popen(
                [sys.executable, "-m", "monitor", "run"], env=env, cwd=tmp,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            started = time.perf_counter()
            samples: list[tuple[float, int]] = []
            sampling = threading.Event()

            def sample() -> None:  # resident memory over time: where the peak comes from
                while not sampling.wait(0.5):
                    try:
                        samples.append((time.perf_counter() - started, proc_stat(daemon.pid)[1]))
                    except OSError:
                        return

            threading.Thread(target=sample, daemon=True).start()

            def until(test: Callable[[dict[str, int]], bool]) -> float:
                while not test(json.loads(get(f"{base}/stats"))):
                    if daemon.poll() is not None:
                        raise SystemExit("the daemon stopped")
                    time.sleep(0.5)
                return time.perf_counter()

            try:
                first_s = until(lambda st: st["seen"] >= args.sources) - started
                idle_valid = first_s + 40 < args.interval
                # Idle: right after the first cycle no source is due again until its
                # interval has passed since its first poll (the interval is longer than
                # the cycle), so the window measures the daemon's own upkeep. The feed
                # server's count shows whether a poll fell into it after all.
                time.sleep(5)  # the last batch's transactions and the outbox settle
                _, rss_after, _ = proc_stat(daemon.pid)
                fetched0 = json.loads(get(f"{base}/stats"))["fetches"]
                window = 30.0
                cpu0, _, _ = proc_stat(daemon.pid)
                time.sleep(window)  # the measurement itself: CPU over an idle window
                cpu1, rss_idle, hwm = proc_stat(daemon.pid)
                polls_in_window = json.loads(get(f"{base}/stats"))["fetches"] - fetched0
                parts = cpu_and_memory(daemon.pid)[1]
                idle_share = (cpu1 - cpu0) / window
                # the steady state: every feed polled again, unchanged (304)
                second_from = until(lambda st: st["fetches"] > args.sources)
                cycle_cpu0, _, _ = proc_stat(daemon.pid)
                until(lambda st: st["fetches"] >= 2 * args.sources)
                cycle_s = time.perf_counter() - second_from
                cycle_cpu = proc_stat(daemon.pid)[0] - cycle_cpu0
                with posts.lock:
                    before = len(posts.bodies)
                get(f"{base}/publish/0")
                published = time.perf_counter()
                with posts.lock:
                    got = posts.lock.wait_for(
                        lambda: len(posts.bodies) > before, timeout=2 * args.interval + 60
                    )
                p2d = time.perf_counter() - published if got else float("inf")
                _, _, hwm = proc_stat(daemon.pid)  # the peak over the whole run
            finally:
                sampling.set()
                daemon.terminate()
                daemon.wait(60)
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    peer = peer_rss()
    mb = 1024 * 1024
    target_p2d = 2 * args.interval + 5
    print(
        f"daemon: {args.sources:,} sources polled every {args.interval:.0f} s, "
        f"{args.stored:,} stored articles (loaded in {load_s:.0f} s); "
        f"load average {os.getloadavg()[0]:.1f} on 2 cores"
    )
    rows = [
        ("first cycle (every feed new: store, extract, place)", f"{first_s:.1f} s", ""),
        ("second cycle (every feed polled again: 304s)", f"{cycle_s:.1f} s", ""),
        ("  CPU per unchanged poll", f"{cycle_cpu / args.sources * 1000:.1f} ms", ""),
        ("resident memory after the cycle", f"{rss_after / mb:.0f} MB", "< 200 MB"),
        ("resident memory, idle / peak", f"{rss_idle / mb:.0f} / {hwm / mb:.0f} MB", "< 200 MB"),
        (
            "  of which anonymous / file pages (mmap'd db)",
            f"{parts['RssAnon'] // 1024} / {parts['RssFile'] // 1024} MB",
            "",
        ),
        (
            f"CPU idle between polls ({window:.0f} s, {polls_in_window} polls in it)",
            # a first cycle longer than the interval leaves no idle stretch after it: the
            # window would measure polls, not upkeep
            f"{idle_share:.2%} of a core" if idle_valid else "n/a: no idle stretch",
            "< 2%",
        ),
        ("publication to Slack delivery", f"{p2d:.1f} s", f"< {target_p2d:.0f} s"),
        ("peer: bare process with monitor imported", f"{peer / mb:.0f} MB", ""),
    ]
    for name, value, target in rows:
        print(f"{name:<48} {value:>18} {target:>10}")
    if samples:
        at, top = max(samples, key=lambda x: x[1])
        print(f"(highest resident memory sampled: {top / mb:.0f} MB, {at:.0f} s after start)")
    if not idle_valid:
        print(f"(the first cycle took longer than the {args.interval:.0f} s interval: run again")
        print(" with a longer --interval to measure the idle CPU)")
    met = hwm < 200 * mb and idle_valid and idle_share < 0.02 and p2d < target_p2d
    print("targets: " + ("met" if met else "MISSED"))


if __name__ == "__main__":
    main()
