"""Real Prometheus servers for tests: one scraping the demo backend, one holding imported history.

`live_prometheus` (session-scoped) starts a demo backend and a private
Prometheus scraping its `/metrics` every second, and yields once Prometheus
has scraped it a few times. `history_prometheus` starts a Prometheus that
scrapes nothing and holds only history it never scraped: the contract series
of DESIGN section 5 over the last 15 minutes at 15 s steps, the last 10 of
them with slow API requests (p95 about 2.3 s), written as an OpenMetrics file
and imported with `promtool tsdb create-blocks-from openmetrics` before the
server starts. Every value of that history is known (the constants below),
so tests can assert what the queries compute, not just that they answer.

The two are separate servers because the built-in queries sum over every
series: live demo traffic would blur the known values of the history.

Import notes (Prometheus 2.42): promtool accepts recent samples (it writes
one block per 2-hour-aligned range the samples fall in, two when the 15
minutes straddle an even hour); Prometheus loads the blocks at start and its
head then refuses samples older than the newest block's end. History that
ends before the server starts is therefore fine; nothing is shifted back.

Each server has its own config file and `--storage.tsdb.path` in a temporary
directory and listens on 127.0.0.1 on a free port. Readiness is `/-/ready`
polled with a deadline. Where no server can be had (Debian: apt-get install
prometheus, which ships both prometheus and promtool), the tests skip with
the reason; under `CI=true` they fail instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

ENV_BIN = "LESSAY_TEST_PROMETHEUS_BIN"  # a directory holding prometheus and promtool
START_TIMEOUT = 15.0
# Prometheus hands targets to the scraper about 5 s after start (its discovery
# manager batches updates), so the first scrape takes a while.
SCRAPE_TIMEOUT = 30.0
SCRAPE_INTERVAL = "1s"
SCRAPES_BEFORE_USE = 3
DEMO_JOB = "lessay"

# --- the imported history: what every query over it must compute -------------------------

HISTORY_SPAN = 15 * 60.0
HISTORY_STEP = 15.0
HISTORY_SLOW_FOR = 10 * 60.0  # the last 10 minutes: slow API requests
LE = ("0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5")
LE += ("5.0", "7.5", "10.0", "+Inf")
# cumulative share of requests at or below each bound; the rest of LE hold 1.0
FAST = (0.0, 0.01, 0.1, 0.5, 0.8, 0.92, 0.99, 1.0)
SLOW = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.02, 0.2, 0.6, 1.0)
FAST_P95_MS = (0.1 + 0.15 * (0.95 - 0.92) / (0.99 - 0.92)) * 1000  # in the (0.1, 0.25] bucket
SLOW_P95_MS = (1.0 + 1.5 * (0.95 - 0.6) / (1.0 - 0.6)) * 1000  # in the (1.0, 2.5] bucket
# requests per 15 s step: (service, code) -> count; payments never answers 5xx
REQUESTS = {
    ("api", "200"): 1470,
    ("api", "500"): 30,
    ("auth", "200"): 297,
    ("auth", "503"): 3,
    ("payments", "200"): 75,
}
HISTORY_ERROR_RATE = {"api": 2.0, "auth": 1.0, "payments": 0.0}
POOL_IN_USE, POOL_IDLE, POOL_MAX = 30, 20, 100
HISTORY_POOL_USAGE = 30.0
PAYMENTS = {"succeeded": 73, "failed": 2}
HISTORY_PAYMENT_SUCCESS = 100 * 73 / 75
SESSIONS = 1500
LESSONS_STARTED, LESSONS_COMPLETED = 30, 24
HISTORY_LESSON_COMPLETION = 80.0
DB_QUERIES = 3000


@dataclass(frozen=True)
class History:
    """The span of the imported history (epoch seconds)."""

    start: float
    slow_from: float  # first step of the slow stretch
    end: float  # last sample


@dataclass(frozen=True)
class PrometheusServer:
    url: str
    base: Path  # config, data and log
    demo_url: str | None = None  # the demo backend it scrapes
    history: History | None = None  # the history imported before start

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result, straight from the API (for fixtures and checks)."""
        params = urllib.parse.urlencode({"query": promql})
        url = f"{self.url}/api/v1/query?{params}"
        with urllib.request.urlopen(url, timeout=5) as answer:
            body = json.load(answer)
        assert body["status"] == "success", body
        return list(body["data"]["result"])


def unavailable(reason: str) -> NoReturn:
    """Skip with the reason, or fail under CI=true: CI must never skip these tests."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def binary(name: str) -> str:
    """`prometheus` or `promtool`: in LESSAY_TEST_PROMETHEUS_BIN if set, else PATH or /usr/bin."""
    given = os.environ.get(ENV_BIN)
    candidates = [Path(given) / name] if given else [shutil.which(name), f"/usr/bin/{name}"]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return str(candidate)
    unavailable(f"{name} is not installed (Debian: apt-get install prometheus)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the history file ------------------------------------------------------------------------


# Counters start high, as after a long uptime, so that rate()'s extrapolation
# never meets zero and every ratio over the history is exact.
_UPTIME_STEPS = 1000


def _cumulative(shares: Sequence[float]) -> list[float]:
    return list(shares) + [1.0] * (len(LE) - len(shares))


def _counter(name: str, labels: str, per_step: float, times: list[float]) -> list[str]:
    return [
        f"{name}{{{labels}}} {per_step * (_UPTIME_STEPS + i):.0f} {t:.3f}"
        for i, t in enumerate(times)
    ]


def _gauge(name: str, labels: str, value: float, times: list[float]) -> list[str]:
    return [f"{name}{{{labels}}} {value:g} {t:.3f}" for t in times]


def _histogram(
    name: str, labels: str, per_step: int, slow: list[bool], times: list[float]
) -> list[str]:
    """One histogram series: cumulative buckets, _count and _sum at every step."""
    fast = _cumulative(FAST)
    buckets = [share * per_step * _UPTIME_STEPS for share in fast]
    total = 0.06 * per_step * _UPTIME_STEPS
    lines = []
    for t, is_slow in zip(times, slow, strict=True):
        shares = _cumulative(SLOW) if is_slow else fast
        buckets = [n + round(share * per_step) for n, share in zip(buckets, shares, strict=True)]
        total += (1.2 if is_slow else 0.06) * per_step
        lines += [
            f'{name}_bucket{{{labels},le="{le}"}} {n:.0f} {t:.3f}'
            for le, n in zip(LE, buckets, strict=True)
        ]
        lines.append(f"{name}_count{{{labels}}} {buckets[-1]:.0f} {t:.3f}")
        lines.append(f"{name}_sum{{{labels}}} {total:.3f} {t:.3f}")
    return lines


def history_text(end: float) -> tuple[str, History]:
    """The OpenMetrics text of the contract series over HISTORY_SPAN up to `end`."""
    steps = int(HISTORY_SPAN // HISTORY_STEP) + 1
    times = [end - (steps - 1 - i) * HISTORY_STEP for i in range(steps)]
    slow = [t > end - HISTORY_SLOW_FOR for t in times]
    never = [False] * steps
    job = 'job="lessay-history"'
    out = ["# TYPE lessay_http_requests counter"]
    for (service, code), per_step in REQUESTS.items():
        labels = f'{job},service="{service}",code="{code}"'
        out += _counter("lessay_http_requests_total", labels, per_step, times)
    out.append("# TYPE lessay_http_request_duration_seconds histogram")
    for service in ("api", "auth", "payments"):
        per_step = sum(n for (s, _), n in REQUESTS.items() if s == service)
        labels = f'{job},service="{service}"'
        stretch = slow if service == "api" else never
        out += _histogram("lessay_http_request_duration_seconds", labels, per_step, stretch, times)
    out.append("# TYPE lessay_db_pool_connections gauge")
    for state, value in (("in_use", POOL_IN_USE), ("idle", POOL_IDLE)):
        out += _gauge("lessay_db_pool_connections", f'{job},state="{state}"', value, times)
    out.append("# TYPE lessay_db_pool_max_connections gauge")
    out += _gauge("lessay_db_pool_max_connections", job, POOL_MAX, times)
    out.append("# TYPE lessay_db_query_duration_seconds histogram")
    out += _histogram("lessay_db_query_duration_seconds", job, DB_QUERIES, never, times)
    out.append("# TYPE lessay_payment_transactions counter")
    for outcome, per_step in PAYMENTS.items():
        labels = f'{job},outcome="{outcome}"'
        out += _counter("lessay_payment_transactions_total", labels, per_step, times)
    out.append("# TYPE lessay_active_sessions gauge")
    out += _gauge("lessay_active_sessions", job, SESSIONS, times)
    for name, per_step in (("started", LESSONS_STARTED), ("completed", LESSONS_COMPLETED)):
        out.append(f"# TYPE lessay_lessons_{name} counter")
        out += _counter(f"lessay_lessons_{name}_total", job, per_step, times)
    out.append("# EOF")
    first_slow = times[slow.index(True)]
    return "\n".join(out) + "\n", History(times[0], first_slow, times[-1])


def import_history(promtool: str, base: Path, data: Path) -> History:
    """Write the history as OpenMetrics and turn it into TSDB blocks in `data`."""
    # whole seconds: promtool keeps milliseconds, and aligned steps read better in failures
    text, history = history_text(float(int(time.time()) - 1))
    source = base / "history.om"
    source.write_text(text, encoding="utf-8")
    _run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)], base)
    return history


def _run(args: list[str], cwd: Path) -> None:
    try:
        subprocess.run(args, cwd=cwd, capture_output=True, check=True, timeout=START_TIMEOUT)
    except subprocess.CalledProcessError as error:
        output = (error.stderr or error.stdout or b"").decode(errors="replace").strip()
        unavailable(f"{Path(args[0]).name} failed (exit {error.returncode}): {output[-800:]}")
    except (OSError, subprocess.TimeoutExpired) as error:
        unavailable(f"cannot run {Path(args[0]).name}: {error}")


# --- the server --------------------------------------------------------------------------------


def _config(targets: Sequence[str]) -> str:
    """prometheus.yml; JSON is YAML, and needs no YAML library."""
    scrape = (
        [{"job_name": DEMO_JOB, "static_configs": [{"targets": list(targets)}]}] if targets else []
    )
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL},
        "scrape_configs": scrape,
    }
    return json.dumps(config, indent=2)


def _ready(url: str) -> bool:
    # 503 while loading raises HTTPError, an OSError like a refused connection
    with (
        contextlib.suppress(OSError),
        urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer,
    ):
        return bool(answer.status == 200)
    return False


def _start(prometheus: str, base: Path, data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start Prometheus on a free port and wait until it is ready; retried if the port is taken."""
    log_path = base / "prometheus.log"
    for _attempt in range(3):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={base / 'prometheus.yml'}",
                    f"--storage.tsdb.path={data}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                cwd=base,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _ready(url):
                return process, url
            time.sleep(0.05)
        _stop(process)
        tail = log_path.read_text(errors="replace")[-800:]
        if "address already in use" not in tail:
            unavailable(f"prometheus did not become ready within {START_TIMEOUT:g}s: {tail}")
    unavailable("prometheus could not start three times: ports taken")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_scrapes(server: PrometheusServer, count: int, within: float) -> None:
    """Wait until Prometheus holds `count` scrapes of the demo job (with a deadline)."""
    promql = f'count_over_time(up{{job="{DEMO_JOB}"}}[5m])'
    deadline = time.monotonic() + within
    seen = 0.0
    while time.monotonic() < deadline:
        result = server.query(promql)
        seen = max((float(r["value"][1]) for r in result), default=0.0)
        if seen >= count:
            return
        time.sleep(0.2)
    unavailable(f"prometheus scraped the demo backend {seen:g} times in {within:g}s")


@contextlib.contextmanager
def running_prometheus(
    *, targets: Sequence[str] = (), history: bool = False
) -> Iterator[PrometheusServer]:
    """A private Prometheus scraping `targets`, with the imported history if asked."""
    prometheus, promtool = binary("prometheus"), binary("promtool")
    base = Path(tempfile.mkdtemp(prefix="lessay-prometheus-"))
    data = base / "data"
    data.mkdir()
    process: subprocess.Popen[bytes] | None = None
    try:
        imported = import_history(promtool, base, data) if history else None
        (base / "prometheus.yml").write_text(_config(targets), encoding="utf-8")
        process, url = _start(prometheus, base, data)
        yield PrometheusServer(url, base, history=imported)
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def live_prometheus() -> Iterator[PrometheusServer]:
    """A demo backend and a Prometheus that has scraped it a few times (1 s interval)."""
    from lessay_console.demo import DemoBackend

    with DemoBackend(port=0) as demo:
        target = demo.url.removeprefix("http://")
        with running_prometheus(targets=[target]) as server:
            live = PrometheusServer(server.url, server.base, demo_url=demo.url)
            wait_for_scrapes(live, SCRAPES_BEFORE_USE, SCRAPE_TIMEOUT)
            yield live


@pytest.fixture(scope="session")
def history_prometheus() -> Iterator[PrometheusServer]:
    """A Prometheus holding only the imported history (see the module docstring)."""
    with running_prometheus(history=True) as server:
        yield server
