"""Benchmark of the journal and of a diagnosis: what recording costs an operator.

Run: .venv/bin/python benchmarks/journal.py [--events 2000] [--json]

1. Latency of one append (synchronous=FULL: each is on disk before it returns),
   synchronous and through `append_async`'s writer thread, in a temp dir on
   the machine's disk; median and 99th percentile.
2. `journal verify` over the whole file, and the time to derive a run's state
   from its events (what a console does when it opens a run).
3. A diagnosis end to end on the demo backend (payment-failures): from opening
   the incident to the last check's result recorded, median of 5.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lessay_console.checks.model import CheckContext  # noqa: E402
from lessay_console.config import Config  # noqa: E402
from lessay_console.demo.backend import DemoBackend  # noqa: E402
from lessay_console.demo.settings import demo_config  # noqa: E402
from lessay_console.identity import Operator  # noqa: E402
from lessay_console.journal import Journal, journal_path, verify  # noqa: E402
from lessay_console.runbooks.loader import load_runbooks  # noqa: E402
from lessay_console.runbooks.state import RunState  # noqa: E402
from lessay_console.troubleshooting.session import Diagnosis  # noqa: E402
from lessay_console.troubleshooting.symptoms import load_catalog  # noqa: E402

OPERATOR = Operator("bench", "bench-host", None)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def appends(directory: Path, count: int) -> dict[str, float]:
    journal = Journal.open(journal_path(directory), OPERATOR)
    data = {"step": "deploy", "text": "api-01 serving 2.5.0 " * 8}
    sync_ms = []
    for _ in range(count):
        began = time.perf_counter()
        journal.append("run/bench-sync", "step.output", data)
        sync_ms.append((time.perf_counter() - began) * 1000)
    async_ms = []
    for _ in range(count):
        began = time.perf_counter()
        await journal.append_async("run/bench-async", "step.output", data)
        async_ms.append((time.perf_counter() - began) * 1000)
    journal.close()
    return {
        "append_median_ms": statistics.median(sync_ms),
        "append_p99_ms": percentile(sync_ms, 99),
        "append_async_median_ms": statistics.median(async_ms),
        "append_async_p99_ms": percentile(async_ms, 99),
    }


def reading(directory: Path) -> dict[str, float]:
    path = journal_path(directory)
    began = time.perf_counter()
    report = verify(path)
    verify_ms = (time.perf_counter() - began) * 1000
    journal = Journal.open(path, OPERATOR)
    runbook = next(r for r in load_runbooks(Config())[0] if r.id == "version-upgrade")
    started = journal.append(
        "run/bench-derive",
        "run.started",
        {"runbook": runbook.id, "title": runbook.title, "params": {"version": "2.5.0"}},
    )
    for index in range(500):
        journal.append("run/bench-derive", "step.output", {"step": "deploy", "text": str(index)})
    began = time.perf_counter()
    RunState.from_events(runbook, journal.events(started.stream))
    derive_ms = (time.perf_counter() - began) * 1000
    journal.close()
    return {
        "verify_ms": verify_ms,
        "verify_events": report.events,
        "derive_501_events_ms": derive_ms,
    }


async def diagnosis(directory: Path, runs: int) -> dict[str, float]:
    timings = []
    with DemoBackend(scenario="payment-failures") as backend:
        config = demo_config(backend)
        catalog, _ = load_catalog(config, directories=[])
        symptom = catalog.find("Payment failures")
        journal = Journal.open(journal_path(directory), OPERATOR)
        for _ in range(runs):
            ctx = CheckContext(config=config, metrics=None)
            began = time.perf_counter()
            session = await Diagnosis.open(symptom, ctx, journal, OPERATOR)
            await session.run_checks()
            timings.append((time.perf_counter() - began) * 1000)
        journal.close()
    return {"diagnosis_payment_failures_median_ms": statistics.median(timings)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        directory = Path(tmp)
        figures = await appends(directory, args.events)
        figures |= reading(directory)
        figures |= await diagnosis(directory, 5)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for name, value in figures.items():
        print(f"{name:<40} {value:,.2f}" if isinstance(value, float) else f"{name:<40} {value:,}")


if __name__ == "__main__":
    asyncio.run(main())
