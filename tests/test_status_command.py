"""`lessay-console status`: JSON and table, exit codes, --watch, against the demo backend."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from lessay_console.demo.backend import DemoBackend
from tests.helpers import GUIDE_METRICS, console_env, wait_until

CONSOLE = [sys.executable, "-m", "lessay_console"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CONSOLE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=console_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_json_lists_every_guide_metric_with_value_unit_and_state() -> None:
    result = run("status", "--json")
    assert result.returncode == 1, result.stderr  # the demo backups' gap: a warning
    report = json.loads(result.stdout)
    metrics = {m["name"]: m for m in report["metrics"]}
    assert set(metrics) >= set(GUIDE_METRICS)
    for name in GUIDE_METRICS:
        metric = metrics[name]
        assert isinstance(metric["value"], float | int), metric
        # a busy machine may have the CPU over 80%: pending, never firing within 5m
        assert metric["state"] == "ok" or (name == "cpu" and metric["state"] == "pending")
        assert metric["unit"] in {"%", "ms", ""}
        assert metric["age_seconds"] < 5
        assert metric["source"] in {"host", "scrape"}
    assert metrics["cpu"]["thresholds"]["warning"] == {
        "above": 80,
        "for_seconds": 300,
        "keep_firing_for_seconds": 0,
        "clear_at": None,
    }
    # the demo's backup catalog has one missed hourly snapshot, on purpose: a warning
    assert metrics["backups"]["state"] == "firing" and metrics["backups"]["severity"] == "warning"
    assert report["exit_code"] == 1 and report["status"] == "WARNING"
    assert {s["name"] for s in report["sources"]} == {"host", "scrape", "health", "backups"}


def test_table_for_people() -> None:
    result = run("status")
    assert result.returncode == 1, result.stderr  # the demo backups' gap: a warning
    lines = result.stdout.splitlines()
    assert lines[0].startswith("lessay-console status: WARNING · demo · ")  # the backups' gap
    assert lines[2].split() == [
        "METRIC",
        "VALUE",
        "STATE",
        "SINCE",
        "WARNING",
        "CRITICAL",
        "SOURCE",
    ]
    cpu = next(line for line in lines if line.startswith("CPU "))
    assert ">80% 5m" in cpu and ">90% 5m" in cpu
    assert max(len(line) for line in lines[2:]) <= 80  # fits an 80-column terminal


def test_unreachable_targets_are_unknown_with_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        'environment = "staging"\n[api]\n'
        'metrics_urls = ["http://127.0.0.1:9/metrics"]\ntimeout = "1s"\n'
    )
    result = run("--config", str(config), "status", "--json")
    assert result.returncode == 3, result.stdout
    report = json.loads(result.stdout)
    latency = next(m for m in report["metrics"] if m["name"] == "api_latency_p95")
    assert latency["state"] == "nodata"
    assert "cannot connect" in latency["last_error"]
    cpu = next(m for m in report["metrics"] if m["name"] == "cpu")
    assert cpu["state"] in ("ok", "pending")  # the other sources are untouched


def test_a_broken_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[api]\ntimeout = 'soon'\n")
    result = run("--config", str(config), "status")
    assert result.returncode == 2
    assert "api.timeout" in result.stderr
    assert "Traceback" not in result.stderr


def test_critical_exits_2(tmp_path: Path) -> None:
    with DemoBackend() as backend:
        config = tmp_path / "c.toml"
        config.write_text(
            f'[api]\nmetrics_urls = ["{backend.url}/metrics"]\n'
            "[thresholds.active_sessions]\ncritical = { above = 1 }\n"
        )
        result = run("--config", str(config), "status")
    assert result.returncode == 2, result.stdout
    assert "CRIT" in next(
        line for line in result.stdout.splitlines() if line.startswith("Sessions")
    )


def test_watch_prints_json_lines_until_interrupted() -> None:
    process = subprocess.Popen(
        [*CONSOLE, "status", "--json", "--watch", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=console_env(),
    )
    try:
        documents = [json.loads(process.stdout.readline()) for _ in range(2)]
        assert documents[1]["at"] >= documents[0]["at"]
        assert all(d["exit_code"] == 1 for d in documents)  # the demo backups' gap
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 1
        assert "Traceback" not in process.stderr.read()
    finally:
        process.kill()
        process.wait()
    wait_until(lambda: process.poll() is not None)
