"""`lessay-console status`: the metrics headless, as a table for people or JSON for programs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lessay_console.config import Config
from lessay_console.formatting import format_reading, format_rule, format_since, state_word
from lessay_console.monitor import (
    UNKNOWN,
    MetricStatus,
    Monitor,
    Snapshot,
    exit_code,
    worst_exit_code,
)
from lessay_console.rules import DisplayState

STATE_WORDS = {
    DisplayState.OK: "OK",
    DisplayState.PENDING: "PENDING",
    DisplayState.FIRING: "FIRING",
    DisplayState.NODATA: "NODATA",
    DisplayState.ERROR: "ERROR",
}
CODE_WORDS = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
# Between the two polls a rate needs.
RATE_GAP = 2.0


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def render_table(snapshot: Snapshot, environment: str) -> str:
    code = worst_exit_code(snapshot)
    lines = [f"lessay-console status: {CODE_WORDS[code]} · {environment} · {iso(snapshot.at)}", ""]
    header = ("METRIC", "VALUE", "STATE", "SINCE", "WARNING", "CRITICAL", "SOURCE")
    rows = [header]
    for status in snapshot.metrics:
        unit = status.spec.unit
        rows.append(
            (
                status.spec.title,
                format_reading(status.spec, status.reading),
                state_word(status.state),
                format_since(snapshot.at - status.state.since),
                format_rule(status.thresholds.warning, unit),
                format_rule(status.thresholds.critical, unit),
                status.source,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    notes = _notes(snapshot)
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def _notes(snapshot: Snapshot) -> list[str]:
    """Why a metric has no fresh value, once per source, then lasting conditions."""
    notes = []
    for source in snapshot.sources:
        if source.error is not None:
            ago = (
                "never succeeded"
                if source.last_success is None
                else f"last good poll {format_since(snapshot.at - source.last_success)} ago"
            )
            notes.append(
                f"{source.name}: {source.error.kind}: {source.error.message} "
                f"({source.failed_polls} failed polls, {ago})"
            )
        notes += [f"{source.name}: {problem}" for problem in source.problems]
        notes += [f"{source.name}: {note}" for note in source.notes]
    for status in snapshot.metrics:
        if status.reading.value is None and status.reading.detail:
            notes.append(f"{status.spec.title}: {status.reading.detail}")
    return notes


def to_json(snapshot: Snapshot, environment: str) -> dict[str, Any]:
    return {
        "at": iso(snapshot.at),
        "environment": environment,
        "status": CODE_WORDS[worst_exit_code(snapshot)],
        "exit_code": worst_exit_code(snapshot),
        "metrics": [_metric_json(status) for status in snapshot.metrics],
        "sources": [
            {
                "name": s.name,
                "ok": s.error is None,
                "last_poll": iso(s.last_poll),
                "last_success": iso(s.last_success),
                "failed_polls": s.failed_polls,
                "error": None
                if s.error is None
                else {"kind": s.error.kind, "message": s.error.message},
                "problems": list(s.problems),
                "notes": list(s.notes),
                "staleness_seconds": s.staleness,
            }
            for s in snapshot.sources
        ],
    }


def _metric_json(status: MetricStatus) -> dict[str, Any]:
    state, reading = status.state, status.reading
    value = reading.value
    return {
        "name": status.spec.name,
        "title": status.spec.title,
        # JSON has no NaN or infinity: such a value is given as text
        "value": value if value is None or math.isfinite(value) else str(value),
        "unit": status.spec.unit,
        "at_least": reading.at_least,
        "age_seconds": status.age,
        "state": state.state.value,
        "severity": state.severity.value if state.severity else None,
        "since": iso(state.since),
        "exit_code": exit_code(status.state),
        "thresholds": {
            level: None
            if rule is None
            else {
                rule.direction: rule.value,
                "for_seconds": rule.for_seconds,
                "keep_firing_for_seconds": rule.keep_firing_for,
                "clear_at": rule.clear_at,
            }
            for level, rule in (
                ("warning", status.thresholds.warning),
                ("critical", status.thresholds.critical),
            )
        },
        "source": status.source,
        "last_error": status.error,
        "failed_polls": state.failed_polls,
        "breakdown": dict(reading.breakdown),
        "detail": reading.detail or None,
    }


def dumps(snapshot: Snapshot, environment: str, *, pretty: bool) -> str:
    return json.dumps(to_json(snapshot, environment), indent=2 if pretty else None, allow_nan=False)


async def run_status(
    config: Config, *, as_json: bool, watch: float | None, echo: Callable[[str], None]
) -> int:
    """Collect and evaluate once (or every `watch` seconds, until a signal); the exit code."""
    monitor = Monitor(config)
    environment = config.environment
    try:
        snapshot = await monitor.first_snapshot(RATE_GAP)
        if watch is None:
            echo(
                dumps(snapshot, environment, pretty=True)
                if as_json
                else render_table(snapshot, environment)
            )
            return worst_exit_code(snapshot)
        return await _watch(monitor, environment, as_json, watch, echo)
    finally:
        await monitor.aclose()


async def _watch(
    monitor: Monitor, environment: str, as_json: bool, every: float, echo: Callable[[str], None]
) -> int:
    """Evaluate every `every` seconds until SIGINT, SIGTERM or SIGHUP; the last exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    code = UNKNOWN
    pollers = asyncio.create_task(monitor.run())
    try:
        # the first evaluation waits for a second poll, so that rates exist
        if not await _stopped(stop, min(every, RATE_GAP) + 0.5):
            while True:
                snapshot = monitor.evaluate()
                code = worst_exit_code(snapshot)
                # JSON Lines when watching: one document per evaluation
                echo(
                    dumps(snapshot, environment, pretty=False)
                    if as_json
                    else render_table(snapshot, environment) + "\n"
                )
                if await _stopped(stop, every):
                    break
    finally:
        pollers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pollers
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)
    return code


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`; True when stopped meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
