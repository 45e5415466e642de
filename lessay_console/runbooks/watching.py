"""Watch steps: observe alert states for a duration, across console restarts.

While a console holds the run, each snapshot is observed: a change in what
fires among the watched metrics is journaled, and a firing at the step's
`fail_on` severity or worse ends the watch as failed. A checkpoint is
journaled every minute, so that after a crash the record says up to when
someone was watching.

When a console comes back to a watch, the time nobody watched is a gap. With
Prometheus configured the gap is judged from its history (the same thresholds
replayed over the range); without it the operator is asked what happened and
the answer is recorded. The watch completes only when its time is up and no
gap is left unaccounted for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lessay_console.rules import DisplayState, Severity
from lessay_console.runbooks.engine import RunEngine, RunError
from lessay_console.runbooks.model import Step
from lessay_console.runbooks.state import StepState, StepStatus

if TYPE_CHECKING:
    from lessay_console.monitor import Snapshot

CHECKPOINT_SECONDS = 60.0
GAP_SECONDS = 2 * CHECKPOINT_SECONDS + 10  # unwatched longer than this: a gap to account for


async def start_watch(engine: RunEngine, step: Step) -> None:
    if step.watch is None:
        raise RunError(f"{step.title!r} has no watch")
    now = engine.deps.clock()
    await engine.record("step.started", {"step": step.id, "session": engine.session})
    await engine.record("watch.started", {"step": step.id, "until": now + step.watch.duration})


def active_watch(engine: RunEngine) -> tuple[Step, StepState] | None:
    """The watch step this session runs, if any."""
    for state in engine.state.steps.values():
        step = engine.runbook.step(state.id)
        if step.kind == "watch" and state.status is StepStatus.RUNNING and engine.holding:
            return step, state
    return None


def pending_gap(engine: RunEngine, step: Step) -> tuple[float, float] | None:
    """The unwatched time the operator must account for, as (since, until)."""
    state = engine.state.steps[step.id]
    if state.gaps_open and state.watch_last_seen is not None:
        return state.watch_last_seen, engine.gap_until.get(step.id, engine.deps.clock())
    return None


def firing(snapshot: Snapshot, watched: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "metric": m.spec.name,
            "severity": m.state.severity.value if m.state.severity else None,
        }
        for m in snapshot.metrics
        if (not watched or m.spec.name in watched) and m.state.state is DisplayState.FIRING
    ]


def breach_of(firing_now: list[dict[str, Any]], fail_on: str) -> str | None:
    worst = {Severity.CRITICAL.value} if fail_on == "critical" else {"warning", "critical"}
    hits = [f for f in firing_now if f["severity"] in worst]
    if not hits:
        return None
    return ", ".join(f"{f['metric']} {f['severity']}" for f in hits)


async def observe(engine: RunEngine, snapshot: Snapshot) -> None:
    found = active_watch(engine)
    if found is None:
        return
    step, state = found
    watch = step.watch
    assert watch is not None  # noqa: S101 - a watch step always has one (the loader makes sure)
    now = snapshot.at
    current = firing(snapshot, watch.alerts)
    breach = breach_of(current, watch.fail_on)
    if current != engine.watch_seen.get(step.id):
        engine.watch_seen[step.id] = current
        await engine.record(
            "watch.observed", {"step": step.id, "firing": current, "breach": breach}
        )
    elif state.watch_last_seen is None or now - state.watch_last_seen >= CHECKPOINT_SECONDS:
        await engine.record("watch.checkpoint", {"step": step.id})
    if breach:
        await engine.record(
            "step.failed", {"step": step.id, "reason": f"firing during the watch: {breach}"}
        )
    elif state.watch_until is not None and now >= state.watch_until and not state.gaps_open:
        await engine.record(
            "step.completed", {"step": step.id, "outcome": "watched to the end: nothing fired"}
        )
        await engine.finish_if_done()


async def resume_watches(engine: RunEngine) -> None:
    """After attaching: judge the time nobody watched each running watch step."""
    now = engine.deps.clock()
    for state in list(engine.state.steps.values()):
        step = engine.runbook.step(state.id)
        if step.kind != "watch" or state.status is not StepStatus.RUNNING:
            continue
        since = state.watch_last_seen or state.started_at or now
        until = min(now, state.watch_until or now)
        if until - since < GAP_SECONDS:
            continue
        if engine.deps.config.prometheus is not None:
            await review_gap_with_prometheus(engine, step, since, until)
        else:
            state.gaps_open = True
            engine.gap_until[step.id] = until


async def account_gap(engine: RunEngine, step: Step, quiet: bool, note: str) -> None:
    """The operator's account of the unwatched time (no Prometheus to ask)."""
    gap = pending_gap(engine, step)
    if gap is None:
        raise RunError(f"{step.title!r} has no unwatched time to account for")
    if not note.strip():
        raise RunError("say how you know (dashboards, pager history): it is recorded")
    since, until = gap
    breach = None if quiet else "the operator reports alerts while the console was closed"
    await engine.record(
        "watch.gap",
        {
            "step": step.id,
            "since": since,
            "until": until,
            "source": "operator",
            "firing": [],
            "breach": breach,
            "note": note.strip(),
        },
    )
    engine.state.steps[step.id].gaps_open = False
    if breach:
        await engine.record("step.failed", {"step": step.id, "reason": breach})


async def review_gap_with_prometheus(
    engine: RunEngine, step: Step, since: float, until: float
) -> None:
    """Replay the thresholds over Prometheus's history of the gap; record what fired."""
    from lessay_console.monitor import Monitor, SourcePlan
    from lessay_console.sources.prometheus import PrometheusSource

    config = engine.deps.config
    prometheus = config.prometheus
    assert prometheus is not None  # noqa: S101 - the caller checked
    watch = step.watch
    assert watch is not None  # noqa: S101
    metrics = watch.alerts or tuple(config.thresholds)
    source = PrometheusSource(
        prometheus,
        config.metrics.window,
        backfill=until - since,
        metrics=metrics,
        clock=lambda: until,
    )
    monitor = Monitor(
        config,
        clock=lambda: until,
        plans=[SourcePlan(source, tuple(metrics), 3 * prometheus.interval)],
    )
    try:
        await monitor.start()
        failure = monitor.plans[0].health.error
    finally:
        await monitor.aclose()
    record: dict[str, Any] = {"step": step.id, "since": since, "until": until}
    if failure is not None:
        # Prometheus could not tell: the operator has to
        engine.state.steps[step.id].gaps_open = True
        engine.gap_until[step.id] = until
        await engine.record("note", {"step": step.id, "text": f"Prometheus: {failure.message}"})
        return
    fired = [
        {"metric": t.metric, "severity": t.severity.value if t.severity else None, "at": t.at}
        for metric in metrics
        for t in monitor.evaluator.history(metric)
        if since <= t.at <= until and t.state is DisplayState.FIRING
    ]
    breach = breach_of(fired, watch.fail_on)
    await engine.record(
        "watch.gap", {**record, "source": "prometheus", "firing": fired, "breach": breach}
    )
    if breach:
        await engine.record(
            "step.failed",
            {"step": step.id, "reason": f"fired while the console was closed: {breach}"},
        )
