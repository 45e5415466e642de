"""Benchmark of the metrics engine: the cost of a cycle, and memory over a long run.

Run: .venv/bin/python benchmarks/engine.py [--hours 24] [--json]

1. CPU time of one collection-and-evaluation cycle (scrape every target,
   parse, validate, store, derive every metric, evaluate every rule) with 1,
   10 and 50 scrape targets. The targets are served by a separate process,
   so only the console's side is measured.
2. Resident memory while the engine takes a simulated day of samples at 1 s
   (a fast-forwarded clock; the demo model produces the series), read at
   1 h, 6 h, 12 h and 24 h of simulated time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lessay_console.config import Config  # noqa: E402
from lessay_console.config.model import ApiConfig, HostConfig  # noqa: E402
from lessay_console.demo.exposition import render_metrics  # noqa: E402
from lessay_console.demo.model import DemoModel  # noqa: E402
from lessay_console.monitor import Monitor, SourcePlan  # noqa: E402
from lessay_console.samples import Collected  # noqa: E402
from lessay_console.sources.base import PollReport  # noqa: E402
from lessay_console.sources.exposition import parse_exposition  # noqa: E402
from lessay_console.sources.scrape import ScrapeSource  # noqa: E402

SERVER = r"""
import sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
body = sys.stdin.buffer.read()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real exporters
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
ports = []
for _ in range(int(sys.argv[1])):
    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ports.append(str(server.server_address[1]))
print(" ".join(ports), flush=True)
threading.Event().wait()
"""


def demo_body() -> bytes:
    model = DemoModel(1, "normal", 0.0, time.time() - 600)
    model.advance_to(600.0)
    return render_metrics(model)[0]


def cycle_cost(targets: int, cycles: int = 20) -> dict[str, float]:
    """CPU seconds (this process) of one scrape + store + evaluate cycle."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(targets)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        server.stdin.write(demo_body())
        server.stdin.close()
        ports = server.stdout.readline().split()
        urls = tuple(f"http://127.0.0.1:{int(p)}/metrics" for p in ports)
        config = Config(api=ApiConfig(metrics_urls=urls, timeout=10))
        source = ScrapeSource(config.api)
        monitor = Monitor(config, plans=[SourcePlan(source, _app_metrics(), 15.0)])

        async def run() -> list[float]:
            costs = []
            for _ in range(cycles + 2):
                began = time.process_time()
                await monitor.poll_all_once()
                monitor.evaluate()
                costs.append(time.process_time() - began)
            await monitor.aclose()
            return costs[2:]  # the first cycles pay for connections and imports

        costs = asyncio.run(run())
        return {
            "cpu_ms_median": statistics.median(costs) * 1000,
            "cpu_ms_p90": sorted(costs)[int(len(costs) * 0.9) - 1] * 1000,
        }
    finally:
        server.kill()
        server.wait()


def _app_metrics() -> tuple[str, ...]:
    from lessay_console.monitor import APP_METRICS

    return APP_METRICS


class _ModelSource:
    """The demo model's series as a source, stepped by a fake clock (no HTTP, no threads)."""

    name, interval, timeout = "scrape", 1.0, 1.0

    def __init__(self) -> None:
        self.model = DemoModel(1, "normal", 0.0, 0.0)

    def samples_at(self, t: float) -> Collected:
        self.model.advance_to(t)
        self.model.drain_logs()  # the backend's ticker writes these to files; here, drop them
        samples, _ = parse_exposition(render_metrics(self.model)[0].decode())
        return Collected(tuple(samples))


def long_run(hours: float, evaluate_every: float = 1.0) -> dict[str, float]:
    """RSS after simulated hours of 1 s samples, with an evaluation every `evaluate_every`."""
    source = _ModelSource()
    config = replace(Config(), host=HostConfig())
    clock = [0.0]
    monitor = Monitor(
        config, clock=lambda: clock[0], plans=[SourcePlan(source, _app_metrics(), 15.0)]
    )
    process = psutil.Process()
    marks = {1: None, 6: None, 12: None, 24: None}
    readings: dict[str, float] = {}
    gc.collect()
    readings["rss_mb_start"] = process.memory_info().rss / 2**20
    began = time.perf_counter()
    seconds = int(hours * 3600)
    for second in range(1, seconds + 1):
        clock[0] = float(second)
        collected = source.samples_at(clock[0])
        monitor.deliver(PollReport("scrape", clock[0], 0.0, collected.samples))
        if second % evaluate_every == 0:
            monitor.evaluate(clock[0])
        hour = second / 3600
        if hour in marks:
            gc.collect()
            readings[f"rss_mb_at_{int(hour)}h"] = process.memory_info().rss / 2**20
    readings["samples_held"] = monitor.store.sample_count()
    readings["wall_s"] = time.perf_counter() - began
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours")
    parser.add_argument(
        "--evaluate-every",
        type=float,
        default=5.0,
        help="simulated seconds between evaluations in the long run",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {f"cycle_{n}_targets": cycle_cost(n) for n in (1, 10, 50)}
    results["long_run"] = long_run(args.hours, args.evaluate_every)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, values in results.items():
        for key, value in values.items():
            print(f"{name}.{key:<22} {value:12.2f}")


if __name__ == "__main__":
    main()
