"""lessay-console benchmark: start-up, steady cost of the running console, demo backend.

Run: .venv/bin/python benchmarks/run.py [--seconds N] [--json]

Figures, not assertions: the test suite checks behaviour, this measures it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.pty_terminal import PtyProcess  # noqa: E402

CONSOLE = [sys.executable, "-m", "lessay_console"]


def env() -> dict[str, str]:
    return dict(os.environ, TERM="xterm-256color")


def command_time(args: list[str], runs: int = 5) -> float:
    """Median wall time of a short command, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*CONSOLE, *args], capture_output=True, check=True, env=env())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def first_frame(cols: int, rows: int, runs: int = 5) -> dict[str, float]:
    """Median seconds from exec to the first complete frame (header and footer drawn),
    and to the frame that shows the demo backend's sources."""
    frames, ready = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as state:
            start = time.perf_counter()
            console = PtyProcess([*CONSOLE, "--demo", "--state-dir", state], env(), cols, rows)
            try:
                console.wait_for(lambda s: "DEMO" in s and "Quit" in s, 20, interval=0.002)
                frames.append(time.perf_counter() - start)
                console.wait_for(lambda s: "/health" in s, 20, interval=0.002)
                ready.append(time.perf_counter() - start)
                console.send(b"q")
                console.wait()
            finally:
                console.close()
    return {"first_frame_s": statistics.median(frames), "demo_ready_s": statistics.median(ready)}


def steady_state(cols: int, rows: int, seconds: float) -> dict[str, float]:
    """CPU % of one core, peak RSS and bytes/s to the terminal of the idle console."""
    with tempfile.TemporaryDirectory() as state:
        console = PtyProcess([*CONSOLE, "--demo", "--state-dir", state], env(), cols, rows)
        try:
            console.wait_for(lambda s: "DEMO" in s and "Quit" in s, timeout=20)
            time.sleep(2)  # settle: let start-up work finish before measuring
            process = psutil.Process(console.process.pid)
            cpu_before = process.cpu_times()
            bytes_before = len(console.output)
            peak_rss = 0
            start = time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds:
                peak_rss = max(peak_rss, process.memory_info().rss)
                time.sleep(0.25)
            cpu_after = process.cpu_times()
            cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
            return {
                "cpu_percent": 100 * cpu / elapsed,
                "peak_rss_mb": peak_rss / 2**20,
                "terminal_bytes_per_s": (len(console.output) - bytes_before) / elapsed,
            }
        finally:
            console.send(b"q")
            console.close()


def demo_backend(requests: int = 200) -> dict[str, float]:
    """Latency of /metrics and /health, and the backend's CPU when idle (its ticker)."""
    process = subprocess.Popen(
        [*CONSOLE, "demo-backend", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env(),
    )
    try:
        url = process.stdout.readline().split()[3]
        with httpx.Client(base_url=url) as client:
            body = client.get("/metrics").content
            timings = {}
            for path in ("/metrics", "/health"):
                samples = []
                for _ in range(requests):
                    start = time.perf_counter()
                    client.get(path).raise_for_status()
                    samples.append(time.perf_counter() - start)
                timings[path] = statistics.median(samples) * 1000
        ps = psutil.Process(process.pid)
        before = ps.cpu_times()
        time.sleep(5)
        after = ps.cpu_times()
        idle_cpu = 100 * ((after.user + after.system) - (before.user + before.system)) / 5
        return {
            "metrics_ms": timings["/metrics"],
            "health_ms": timings["/health"],
            "metrics_bytes": len(body),
            "idle_cpu_percent": idle_cpu,
        }
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0, help="steady-state window")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    results = {
        "help_s": command_time(["--help"]),
        "config_check_s": command_time(["config", "check"]),
        "start_80x24": first_frame(80, 24),
        "start_120x40": first_frame(120, 40),
        "steady_120x40": steady_state(120, 40, args.seconds),
        "demo_backend": demo_backend(),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, value in results.items():
        if isinstance(value, dict):
            for key, inner in value.items():
                print(f"{name}.{key:<24} {inner:10.3f}")
        else:
            print(f"{name:<35} {value:10.3f}")


if __name__ == "__main__":
    main()
