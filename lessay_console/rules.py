"""The threshold engine: Prometheus alerting semantics as a pure state machine (DESIGN section 6).

One `RuleState` per (metric, severity), advanced by `step()` at every
evaluation. The condition is evaluated each time; true starts PENDING (FIRING
at once when `for` is 0); the rule fires once the condition has held at every
evaluation for at least `for`; one false evaluation returns it to OK. Two
options against flapping:

- `keep_firing_for`, as Prometheus 2.42+ implements it: a FIRING rule whose
  condition turns false stays FIRING while less than `keep_firing_for` has
  passed since the first false evaluation.
- a recovery hysteresis (`clear_at`): while FIRING, the condition is "beyond
  `clear_at`" instead of "beyond the threshold", so an `above 90, clear_below
  80` rule keeps firing at 85.

No value (no sample within the staleness window) is a false evaluation, as an
absent series is to Prometheus: the rule returns to OK unless
`keep_firing_for` holds it; the metric shows NODATA, never OK. A failed poll
is not an evaluation at all: the rule states stay exactly as they were and the
metric shows ERROR.

`Evaluator` keeps the states of every metric and folds them into the
`MetricState` a screen shows: the worst firing severity, when the shown state
began, and a bounded history of transitions for the drill-down.

    >>> rule = ThresholdRule("above", 80, for_seconds=120)
    >>> state = step(rule, RuleState(), 85, now=0)
    >>> state.phase, step(rule, state, 90, now=60).phase, step(rule, state, 90, now=120).phase
    (<Phase.PENDING: 'pending'>, <Phase.PENDING: 'pending'>, <Phase.FIRING: 'firing'>)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from lessay_console.config.model import MetricThresholds, ThresholdRule

# Times are float seconds (epoch seconds in the console). A microsecond's
# tolerance keeps "held for 5m" exact despite rounding in those sums.
_TOLERANCE = 1e-6


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


SEVERITIES_WORST_FIRST = (Severity.CRITICAL, Severity.WARNING)


class Phase(StrEnum):
    """Where one rule is: Prometheus's inactive, pending and firing."""

    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"


class DisplayState(StrEnum):
    """What a metric shows: its rules' worst phase, or why there is nothing to judge."""

    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    NODATA = "nodata"
    ERROR = "error"


# -- the pure helpers: value in, verdict out --------------------------------
def beyond(direction: str, value: float, limit: float) -> bool:
    """`value` strictly past `limit` in `direction`, as PromQL's `>` and `<` (NaN never is)."""
    return value > limit if direction == "above" else value < limit


def breaches(rule: ThresholdRule, value: float) -> bool:
    """The value is past the rule's threshold."""
    return beyond(rule.direction, value, rule.value)


def holds(rule: ThresholdRule, value: float | None, *, firing: bool) -> bool:
    """The rule's condition at one evaluation; while firing, hysteresis moves the line."""
    if value is None:
        return False
    if firing and rule.clear_at is not None:
        return beyond(rule.direction, value, rule.clear_at)
    return breaches(rule, value)


def severity(thresholds: MetricThresholds, value: float | None) -> Severity | None:
    """The worst severity `value` breaches right now, ignoring `for` (a colour for a sample).

    >>> severity(MetricThresholds(ThresholdRule("above", 80), ThresholdRule("above", 90)), 85)
    <Severity.WARNING: 'warning'>
    """
    for level in SEVERITIES_WORST_FIRST:
        rule = rule_of(thresholds, level)
        if rule is not None and value is not None and breaches(rule, value):
            return level
    return None


def rule_of(thresholds: MetricThresholds, level: Severity) -> ThresholdRule | None:
    return thresholds.critical if level is Severity.CRITICAL else thresholds.warning


# -- one rule ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RuleState:
    """One rule's state between evaluations.

    `phase_since` is when the current phase began (None before the first
    evaluation); `active_since` is when the condition became true, Prometheus's
    ActiveAt (None when OK); `keep_firing_since` is the first false evaluation
    while FIRING, from which `keep_firing_for` counts.
    """

    phase: Phase = Phase.OK
    phase_since: float | None = None
    active_since: float | None = None
    keep_firing_since: float | None = None


def step(rule: ThresholdRule, state: RuleState, value: float | None, now: float) -> RuleState:
    """The state after one evaluation at `now` of `value` (None: no sample)."""
    firing = state.phase is Phase.FIRING
    if holds(rule, value, firing=firing):
        if firing:
            return replace(state, keep_firing_since=None)
        active_since = state.active_since if state.phase is Phase.PENDING else now
        if now - active_since + _TOLERANCE >= rule.for_seconds:
            return RuleState(Phase.FIRING, now, active_since)
        since = state.phase_since if state.phase is Phase.PENDING else now
        return RuleState(Phase.PENDING, since, active_since)
    if firing and rule.keep_firing_for > 0:
        # Prometheus counts keep_firing_for from the first evaluation that was false
        keep_since = state.keep_firing_since if state.keep_firing_since is not None else now
        if now - keep_since + _TOLERANCE < rule.keep_firing_for:
            return replace(state, keep_firing_since=keep_since)
    if state.phase is Phase.OK and state.phase_since is not None:
        return state
    return RuleState(Phase.OK, now)


# -- a metric ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MetricState:
    """What one metric shows after an evaluation.

    `severity` is the worst firing rule's, else the worst pending rule's, else
    None; it comes from the rule states, so an ERROR keeps the severity the
    metric had when its source failed. `since` is when the shown
    (state, severity) began. `failed_polls` counts consecutive failed polls
    while ERROR.
    """

    metric: str
    value: float | None
    state: DisplayState
    severity: Severity | None
    since: float
    at: float
    warning: RuleState | None = None
    critical: RuleState | None = None
    failed_polls: int = 0

    def rule(self, level: Severity) -> RuleState | None:
        return self.critical if level is Severity.CRITICAL else self.warning

    def rule_display(self, level: Severity) -> DisplayState | None:
        """The state shown for one rule: its phase, but NODATA/ERROR when there is no judgement.

        A rule held FIRING by keep_firing_for through a gap still shows firing.
        """
        state = self.rule(level)
        if state is None:
            return None
        if state.phase is Phase.OK and self.state in (DisplayState.NODATA, DisplayState.ERROR):
            return self.state
        return DisplayState(state.phase.value)


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of what a metric shows, for the alert timeline."""

    at: float
    metric: str
    state: DisplayState
    severity: Severity | None
    previous: DisplayState | None
    previous_severity: Severity | None
    value: float | None


class Evaluator:
    """The rule states of every metric, advanced one evaluation at a time."""

    def __init__(self, thresholds: Mapping[str, MetricThresholds], *, history: int = 100) -> None:
        self.thresholds = dict(thresholds)
        self._history_size = history
        self._current: dict[str, MetricState] = {}
        self._history: dict[str, deque[Transition]] = {}

    def evaluate(
        self,
        metric: str,
        value: float | None,
        now: float,
        *,
        source_failed: bool = False,
        failed_polls: int | None = None,
    ) -> MetricState:
        """Evaluate `metric` at `now`.

        `value` is the sample within the staleness window, or None (NODATA); a
        NaN is a value, never beyond a threshold (as in PromQL).
        With `source_failed`, nothing is evaluated: rule states stay as they
        were and the metric shows ERROR; `value` is carried as given (the last
        good value, or None), and `failed_polls` defaults to one more than the
        previous consecutive count.
        """
        previous = self._current.get(metric)
        if source_failed:
            states = self._rule_states(metric, previous, None, None)
            display = DisplayState.ERROR
            if failed_polls is None:
                failed_polls = (previous.failed_polls if previous else 0) + 1
        else:
            states = self._rule_states(metric, previous, value, now)
            display = _display(states, value)
            failed_polls = 0
        worst = _worst(states)
        if previous and (previous.state, previous.severity) == (display, worst):
            since = previous.since
        else:
            since = now
            self._record(
                Transition(
                    at=now,
                    metric=metric,
                    state=display,
                    severity=worst,
                    previous=previous.state if previous else None,
                    previous_severity=previous.severity if previous else None,
                    value=value,
                )
            )
        current = MetricState(
            metric,
            value,
            display,
            worst,
            since,
            now,
            warning=states[Severity.WARNING],
            critical=states[Severity.CRITICAL],
            failed_polls=failed_polls,
        )
        self._current[metric] = current
        return current

    def _rule_states(
        self, metric: str, previous: MetricState | None, value: float | None, now: float | None
    ) -> dict[Severity, RuleState | None]:
        """Each configured rule stepped at `now`, or left as it was when `now` is None."""
        thresholds = self.thresholds.get(metric, MetricThresholds())
        states: dict[Severity, RuleState | None] = {}
        for level in SEVERITIES_WORST_FIRST:
            rule = rule_of(thresholds, level)
            old = (previous.rule(level) if previous else None) or RuleState()
            if rule is None:
                states[level] = None
            else:
                states[level] = old if now is None else step(rule, old, value, now)
        return states

    def current(self, metric: str) -> MetricState | None:
        """The state after the last evaluation of `metric`, if any."""
        return self._current.get(metric)

    def all_current(self) -> dict[str, MetricState]:
        return dict(self._current)

    def history(self, metric: str) -> tuple[Transition, ...]:
        """The last transitions of `metric`, oldest first (at most `history` of them)."""
        return tuple(self._history.get(metric, ()))

    def _record(self, transition: Transition) -> None:
        queue = self._history.get(transition.metric)
        if queue is None:
            queue = self._history[transition.metric] = deque(maxlen=self._history_size)
        queue.append(transition)


def _display(states: Mapping[Severity, RuleState | None], value: float | None) -> DisplayState:
    if value is None:
        return DisplayState.NODATA
    phases = {state.phase for state in states.values() if state is not None}
    if Phase.FIRING in phases:
        return DisplayState.FIRING
    if Phase.PENDING in phases:
        return DisplayState.PENDING
    return DisplayState.OK


def _worst(states: Mapping[Severity, RuleState | None]) -> Severity | None:
    for phase in (Phase.FIRING, Phase.PENDING):
        for level in SEVERITIES_WORST_FIRST:
            state = states.get(level)
            if state is not None and state.phase is phase:
                return level
    return None
