"""`lessay-console diagnose` end to end: real demo backend, real PostgreSQL, real journal."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import asyncpg

from lessay_console.demo.backend import DemoBackend
from lessay_console.journal import journal_path, verify
from tests.helpers import await_until, console_env
from tests.postgres_server import PostgresServer

CONSOLE = [sys.executable, "-m", "lessay_console"]
SLOW_QUERY = "SELECT 'report of the week' AS marker, pg_sleep(60)"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 90):
    return subprocess.run(
        [*CONSOLE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or console_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_payment_failures_on_the_demo(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = run(
        "--demo",
        "--scenario",
        "payment-failures",
        "--state-dir",
        str(state),
        "--operator",
        "carol",
        "diagnose",
        "Payment failures",
        "--json",
    )
    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["title"] == "Payment failures"
    findings = {f["id"]: f for f in report["findings"]}
    assert findings["provider-status"]["status"] == "fail"
    assert "partial_outage" in findings["provider-status"]["summary"]
    assert findings["payment-logs"]["status"] in {"fail", "warn"}
    assert any("stripe" in line.lower() for line in findings["payment-logs"]["detail"])
    assert findings["provider-status"]["explain"]  # what it means, from the catalog
    assert report["escalation"]["team"] == "Payment Team"
    assert [r["title"] for r in report["resolutions"]] == [
        "Verify Stripe API status",
        "Check error logs",
    ]
    assert report["recorded"] is True
    # recorded: every event carries the operator, and the chain verifies
    assert {e["operator"] for e in report["events"]} == {"carol"}
    assert verify(journal_path(state)).ok
    exported = run("--state-dir", str(state), "incident", "export", report["incident"])
    assert exported.returncode == 0, exported.stderr
    assert "# Incident: Payment failures" in exported.stdout
    assert "FAIL" in exported.stdout and "partial_outage" in exported.stdout
    as_json = run(
        "--state-dir", str(state), "incident", "export", report["incident"], "--format", "json"
    )
    assert json.loads(as_json.stdout)["events"] == report["events"]
    listed = run("--state-dir", str(state), "incident", "list")
    assert report["incident"].removeprefix("incident/") in listed.stdout


def test_text_report_streams_results_then_resolution_and_escalation(tmp_path: Path) -> None:
    result = run("--demo", "--state-dir", str(tmp_path), "diagnose", "high-api-latency")
    lines = result.stdout.splitlines()
    assert lines[0] == "Diagnosing: High API latency (5 checks)"
    # one line per check, in the order they ended, before the report
    statuses = [line.split()[0] for line in lines[2:7]]
    assert set(statuses) <= {"PASS", "WARN", "FAIL", "ERROR", "SKIPPED"}
    assert any(line.startswith("SKIPPED") and "[postgres]" in line for line in lines[2:7])
    assert "Resolution" in lines
    assert "  1. Check database queries" in lines
    assert any(line.startswith("Escalation: Senior Engineer: ") for line in lines)
    assert result.returncode in {0, 1}, result.stdout  # normal demo: nothing fails


def test_an_unknown_symptom_is_refused_with_suggestions() -> None:
    result = run("--demo", "diagnose", "payment failure")
    assert result.returncode == 2
    assert "did you mean 'Payment failures'" in result.stderr
    listed = run("--demo", "diagnose", "--list")
    assert listed.returncode == 0
    assert "high-api-latency" in listed.stdout and "Payment Team" in listed.stdout


async def test_high_api_latency_reports_the_slow_query(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    """The issue's "done when": a slow demo backend and a real slow query."""
    dsn = postgres_server.dsn_for(postgres_server.monitor.name, postgres_server.monitor.password)
    sleeper = await asyncpg.connect(postgres_server.superuser_dsn, timeout=10)
    admin = await asyncpg.connect(postgres_server.superuser_dsn, timeout=10)
    slow = asyncio.create_task(sleeper.execute(SLOW_QUERY))
    try:

        async def running_for_6s() -> bool:
            age = await admin.fetchval(
                "SELECT extract(epoch FROM now() - query_start) FROM pg_stat_activity "
                "WHERE query = $1",
                SLOW_QUERY,
            )
            return age is not None and age > 6

        await await_until(running_for_6s, within=20, interval=0.2)
        with DemoBackend(scenario="high-latency") as backend:
            config = tmp_path / "lessay-console.toml"
            config.write_text(
                f'environment = "staging"\n'
                f'[api]\nhealth_url = "{backend.url}/health"\n'
                f'metrics_urls = ["{backend.url}/metrics"]\n'
                f'[postgres]\ndsn = "env:LESSAY_PG_DSN"\n',
                encoding="utf-8",
            )
            result = await asyncio.to_thread(
                run,
                "--config",
                str(config),
                "--state-dir",
                str(tmp_path / "state"),
                "diagnose",
                "High API latency",
                "--json",
                env=console_env(LESSAY_PG_DSN=dsn),
            )
    finally:
        slow.cancel()
        sleeper.terminate()
        await admin.close()
    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    findings = {f["id"]: f for f in report["findings"]}
    activity = findings["db-activity"]
    assert activity["status"] == "fail"
    assert "report of the week" in json.dumps(activity)
    assert postgres_server.monitor.password not in result.stdout + result.stderr
    assert report["escalation"]["team"] == "Senior Engineer"
