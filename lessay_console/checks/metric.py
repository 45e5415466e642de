"""Metric checks: one metric against its thresholds, and every alert firing or pending.

They read the snapshot the context collects (`ctx.metrics`). A headless run
(`diagnose`, a runbook step) collects once, so a rule with a `for` duration
cannot have fired yet: a value beyond a threshold counts as that severity
whether or not its rule has held long enough, and the summary says how long
it has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lessay_console.catalog import METRICS
from lessay_console.checks.model import CheckContext, CheckKind, CheckStatus, Outcome, Param
from lessay_console.config.durations import format_age, format_duration
from lessay_console.config.model import ThresholdRule
from lessay_console.formatting import (
    format_number,
    format_reading,
    format_thresholds,
    state_word,
)
from lessay_console.rules import (
    SEVERITIES_WORST_FIRST,
    DisplayState,
    Phase,
    RuleState,
    Severity,
    breaches,
    rule_of,
)

if TYPE_CHECKING:
    from lessay_console.monitor import MetricStatus, Snapshot

NO_METRICS = "no metrics collected here"
NO_JUDGEMENT = (DisplayState.NODATA, DisplayState.ERROR)


# -- metric ------------------------------------------------------------------
async def metric(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    name = params.get("metric")
    if not isinstance(name, str) or name not in METRICS:
        known = ", ".join(METRICS)
        return Outcome.errored(f"no metric {name!r}; known metrics: {known}")
    if ctx.metrics is None:
        return Outcome.skipped(NO_METRICS)
    snapshot = await ctx.metrics()
    status = _find(snapshot, name)
    if status is None:
        return Outcome.skipped(f"{METRICS[name].title} ({name}) is not collected here")
    return judge(status, snapshot.at)


@dataclass(frozen=True)
class Verdict:
    """The worst thing one metric's rules say: which severity, and in what phase."""

    level: Severity
    rule: ThresholdRule
    phase: Phase | None  # FIRING or PENDING; None: beyond the threshold, not yet evaluated
    since: float | None  # when the phase began (pending: when the condition became true)
    beyond: bool  # the current value is past the threshold


def verdict(status: MetricStatus) -> Verdict | None:
    """Critical before warning: the first rule firing, pending, or with the value beyond it."""
    value = status.reading.value
    for level in SEVERITIES_WORST_FIRST:
        rule = rule_of(status.thresholds, level)
        if rule is None:
            continue
        state = status.state.rule(level) or RuleState()
        beyond = value is not None and breaches(rule, value)
        if state.phase is Phase.FIRING:
            return Verdict(level, rule, Phase.FIRING, state.phase_since, beyond)
        if state.phase is Phase.PENDING:
            return Verdict(level, rule, Phase.PENDING, state.active_since, beyond)
        if beyond:
            return Verdict(level, rule, None, None, beyond)
    return None


def judge(status: MetricStatus, now: float) -> Outcome:
    spec, state = status.spec, status.state
    shown = f"{spec.title} {format_reading(spec, status.reading)}"
    detail = _detail(status, now)
    data = _data(status)
    found = verdict(status)
    if state.state in NO_JUDGEMENT:
        summary = f"{spec.title}: {_why(status)}"
        if found is not None and found.phase is Phase.FIRING:  # rule states freeze on failure
            summary += f"; {found.level.value} was firing when it failed"
        return Outcome(CheckStatus.ERROR, summary, detail, data)
    if found is None:
        return Outcome(CheckStatus.PASS, f"{shown}: OK ({_limits(status)})", detail, data)
    # a critical rule pending means its value is past the critical threshold now
    critical = found.level is Severity.CRITICAL and (found.phase is Phase.FIRING or found.beyond)
    result = CheckStatus.FAIL if critical else CheckStatus.WARN
    return Outcome(result, f"{shown}: {_explain(found, spec.unit, now)}", detail, data)


def _why(status: MetricStatus) -> str:
    """Why there is nothing to judge: the source's error, and how old what is known is."""
    reason = status.error or status.reading.detail or "no sample within the staleness window"
    if status.state.state is DisplayState.ERROR:
        polls = status.state.failed_polls
        reason += f" ({polls} failed poll{'' if polls == 1 else 's'})"
    if status.age is None:
        return reason + "; no sample yet"
    age = format_age(status.age)
    if status.reading.value is None:
        return f"{reason}; last sample {age} ago"
    return f"{reason}; last value {format_reading(status.spec, status.reading)}, {age} ago"


def _explain(found: Verdict, unit: str, now: float) -> str:
    """ "above warning 500 ms (pending 40s of 1m)", "below critical 90.0% (firing 3m12s)"."""
    rule = found.rule
    line = f"{rule.direction} {found.level.value} {format_number(rule.value, unit)}"
    held = format_age(now - found.since) if found.since is not None else ""
    if found.phase is Phase.PENDING:
        return f"{line} (pending {held} of {format_duration(rule.for_seconds)})"
    if found.phase is None:  # the rules have not seen this value yet
        waits = f"; fires after {format_duration(rule.for_seconds)}" if rule.for_seconds else ""
        return f"{line} (not yet evaluated{waits})"
    if found.beyond:
        return f"{line} (firing {held})"
    # firing, though the value is back: hysteresis or keep_firing_for holds it
    if rule.clear_at is not None:
        back = "below" if rule.direction == "above" else "above"
        return f"{line} still firing {held}: clears {back} {format_number(rule.clear_at, unit)}"
    kept = format_duration(rule.keep_firing_for)
    return f"{line} still firing {held}: value back, kept firing for {kept}"


def _limits(status: MetricStatus) -> str:
    return format_thresholds(status.thresholds, status.spec.unit)


def _detail(status: MetricStatus, now: float) -> tuple[str, ...]:
    spec, state = status.spec, status.state
    lines = [
        f"{spec.title} ({spec.name}): {spec.description}",
        f"value: {format_reading(spec, status.reading)}"
        + (f" ({status.reading.detail})" if status.reading.detail else ""),
        f"state: {state_word(state)} for {format_age(now - state.since)}",
    ]
    for level in SEVERITIES_WORST_FIRST:
        rule = rule_of(status.thresholds, level)
        if rule is None:
            continue
        phase = state.rule_display(level) or DisplayState.OK
        lines.append(f"{level.value}: {_limit(rule, spec.unit)}: {phase.value}")
    age = "no sample yet" if status.age is None else f"last sample {format_age(status.age)} ago"
    lines.append(f"source: {status.source}, {age}")
    if status.error:
        lines.append(f"source error: {status.error}")
    lines += [f"source problem: {problem}" for problem in status.problems]
    breakdown = status.reading.breakdown
    if breakdown:
        lines.append("breakdown:")
        lines += [f"  {name}: {format_number(value, spec.unit)}" for name, value in breakdown]
    return tuple(lines)


def _limit(rule: ThresholdRule, unit: str) -> str:
    text = f"{rule.direction} {format_number(rule.value, unit)}"
    if rule.for_seconds:
        text += f" for {format_duration(rule.for_seconds)}"
    if rule.clear_at is not None:
        text += f", clears at {format_number(rule.clear_at, unit)}"
    return text


def _data(status: MetricStatus) -> dict[str, Any]:
    from lessay_console.status import iso

    state = status.state
    return {
        "metric": status.spec.name,
        "title": status.spec.title,
        "value": _json_number(status.reading.value),
        "unit": status.spec.unit,
        "state": state.state.value,
        "severity": state.severity.value if state.severity else None,
        "since": iso(state.since),
        "source": status.source,
        "age_seconds": status.age,
        "last_error": status.error,
    }


# -- alerts ------------------------------------------------------------------
async def alerts(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    if ctx.metrics is None:
        return Outcome.skipped(NO_METRICS)
    snapshot = await ctx.metrics()
    # a rule firing counts even while its source fails (ERROR keeps the rule states)
    active = [m for m in snapshot.metrics if _active_rules(m)]
    silent = [m for m in snapshot.metrics if m.state.state in NO_JUDGEMENT]
    detail = [_alert_line(m, snapshot.at) for m in active]
    if silent:
        detail.append("no data: " + ", ".join(m.spec.title for m in silent))
    data = {
        "alerts": [_alert_data(m) for m in active],
        "nodata": [m.spec.name for m in silent],
    }
    if not active and len(silent) == len(snapshot.metrics):
        # nothing to judge is not "no alerts"
        return Outcome(CheckStatus.ERROR, "no metric has a value", tuple(detail), data)
    if not active:
        summary = f"no alert firing or pending ({len(snapshot.metrics)} metrics)"
        return Outcome(CheckStatus.PASS, summary, tuple(detail), data)
    critical = any(
        level is Severity.CRITICAL and rule.phase is Phase.FIRING
        for m in active
        for level, rule in _active_rules(m)
    )
    count = f"{len(active)} alert" + ("" if len(active) == 1 else "s")
    names = ", ".join(f"{m.spec.title} {_alert_word(m)}" for m in active)
    status = CheckStatus.FAIL if critical else CheckStatus.WARN
    return Outcome(status, f"{count}: {names}", tuple(detail), data)


def _active_rules(status: MetricStatus) -> list[tuple[Severity, RuleState]]:
    """(severity, rule state) of each rule firing or pending, worst severity first."""
    active = []
    for level in SEVERITIES_WORST_FIRST:
        rule = status.state.rule(level)
        if rule is not None and rule.phase in (Phase.FIRING, Phase.PENDING):
            active.append((level, rule))
    return active


def _headline(status: MetricStatus) -> tuple[Severity, RuleState]:
    """The worst firing rule, else the worst pending one."""
    rules = _active_rules(status)
    return next(((lv, r) for lv, r in rules if r.phase is Phase.FIRING), rules[0])


def _alert_word(status: MetricStatus) -> str:
    """ "firing critical", "pending warning"."""
    level, rule = _headline(status)
    return f"{rule.phase.value} {level.value}"


def _alert_line(status: MetricStatus, now: float) -> str:
    spec = status.spec
    value = format_reading(spec, status.reading)
    _, rule = _headline(status)
    held = format_age(now - rule.phase_since) if rule.phase_since is not None else "?"
    source = f"; source failing: {status.error}" if status.error else ""
    return f"{spec.title} ({spec.name}) {value}: {_alert_word(status)} for {held}{source}"


def _alert_data(status: MetricStatus) -> dict[str, Any]:
    from lessay_console.status import iso

    level, rule = _headline(status)
    return {
        "metric": status.spec.name,
        "state": rule.phase.value,
        "severity": level.value,
        "since": iso(rule.phase_since),
        "value": _json_number(status.reading.value),
    }


# -- shared bits -------------------------------------------------------------
def _find(snapshot: Snapshot, name: str) -> MetricStatus | None:
    return next((m for m in snapshot.metrics if m.spec.name == name), None)


def _json_number(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: such a value is given as text (as `status --json` does)."""
    return value if value is None or math.isfinite(value) else str(value)


KINDS: tuple[CheckKind, ...] = (
    CheckKind(
        name="metric",
        title="Metric against its thresholds",
        params=(
            Param("metric", "string", required=True, help="a metric name, as api_latency_p95"),
        ),
        timeout=15.0,
        run=metric,
    ),
    CheckKind(
        name="alerts",
        title="Alerts firing or pending",
        params=(),
        timeout=15.0,
        run=alerts,
    ),
)
