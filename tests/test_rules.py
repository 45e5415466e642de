"""The threshold engine: each transition, NODATA against ERROR, severity and `since`."""

from __future__ import annotations

import doctest
import math

from lessay_console import rules
from lessay_console.config.model import MetricThresholds, ThresholdRule
from lessay_console.rules import (
    DisplayState,
    Evaluator,
    Phase,
    RuleState,
    Severity,
    breaches,
    holds,
    severity,
    step,
)

ABOVE_80_FOR_5M = ThresholdRule("above", 80, for_seconds=300)
CPU = MetricThresholds(
    warning=ThresholdRule("above", 80, for_seconds=300),
    critical=ThresholdRule("above", 90, for_seconds=300),
)


def run(rule: ThresholdRule, *samples: tuple[float, float | None]) -> list[RuleState]:
    """The states after evaluating each (time, value) in turn."""
    states, state = [], RuleState()
    for now, value in samples:
        state = step(rule, state, value, now)
        states.append(state)
    return states


def phases(states: list[RuleState]) -> str:
    return " ".join(state.phase.value for state in states)


# -- the pure helpers -----------------------------------------------------
def test_thresholds_are_strict_and_nan_never_breaches() -> None:
    above, below = ThresholdRule("above", 80), ThresholdRule("below", 20)
    assert (breaches(above, 80.5), breaches(above, 80), breaches(above, math.inf)) == (
        True,
        False,
        True,
    )
    assert (breaches(below, 19), breaches(below, 20), breaches(below, -math.inf)) == (
        True,
        False,
        True,
    )
    assert not breaches(above, math.nan)
    assert not breaches(below, math.nan)
    assert not holds(above, None, firing=True)


def test_hysteresis_moves_the_line_only_while_firing() -> None:
    rule = ThresholdRule("above", 90, clear_at=80)
    assert holds(rule, 85, firing=True)
    assert not holds(rule, 85, firing=False)
    assert not holds(rule, 80, firing=True)  # cleared at 80: "at or below"
    below = ThresholdRule("below", 10, clear_at=20)
    assert holds(below, 15, firing=True)
    assert not holds(below, 20, firing=True)


def test_severity_is_the_worst_breached_level() -> None:
    assert severity(CPU, 50) is None
    assert severity(CPU, 85) is Severity.WARNING
    assert severity(CPU, 95) is Severity.CRITICAL
    assert severity(CPU, None) is None
    assert severity(MetricThresholds(critical=ThresholdRule("above", 5)), 6) is Severity.CRITICAL


def test_doctests() -> None:
    assert doctest.testmod(rules).failed == 0


# -- one rule, each transition --------------------------------------------
def test_true_starts_pending_and_fires_once_held_for_the_duration() -> None:
    states = run(ABOVE_80_FOR_5M, (0, 85), (60, 85), (240, 85), (300, 85), (360, 85))
    assert phases(states) == "pending pending pending firing firing"
    assert [s.active_since for s in states] == [0, 0, 0, 0, 0]
    assert [s.phase_since for s in states] == [0, 0, 0, 300, 300]


def test_without_for_it_fires_at_the_first_true_evaluation() -> None:
    states = run(ThresholdRule("above", 80), (0, 50), (10, 81))
    assert phases(states) == "ok firing"
    assert (states[1].phase_since, states[1].active_since) == (10, 10)


def test_one_false_evaluation_returns_to_ok_from_pending_and_from_firing() -> None:
    pending = run(ABOVE_80_FOR_5M, (0, 85), (60, 80))
    assert phases(pending) == "pending ok"
    assert pending[1] == RuleState(Phase.OK, 60)
    firing = run(ABOVE_80_FOR_5M, (0, 85), (300, 85), (360, 50), (420, 85))
    assert phases(firing) == "pending firing ok pending"
    assert firing[3].active_since == 420  # the duration starts again


def test_ok_keeps_the_time_it_began() -> None:
    states = run(ABOVE_80_FOR_5M, (0, 50), (60, 50), (120, 85), (180, 50), (240, 40))
    assert [s.phase_since for s in states] == [0, 0, 120, 180, 180]


def test_keep_firing_for_counts_from_the_first_false_evaluation() -> None:
    rule = ThresholdRule("above", 80, keep_firing_for=180)
    states = run(rule, (0, 85), (60, 50), (120, 50), (180, 50), (240, 50))
    assert phases(states) == "firing firing firing firing ok"
    assert [s.keep_firing_since for s in states[:4]] == [None, 60, 60, 60]
    assert states[3].phase_since == 0  # still the same firing


def test_keep_firing_for_is_reset_by_a_true_evaluation() -> None:
    rule = ThresholdRule("above", 80, keep_firing_for=120)
    states = run(rule, (0, 85), (60, 50), (120, 85), (180, 50), (240, 50), (300, 50))
    assert phases(states) == "firing firing firing firing firing ok"
    assert states[2].keep_firing_since is None


def test_keep_firing_for_does_not_hold_a_pending_rule() -> None:
    rule = ThresholdRule("above", 80, for_seconds=300, keep_firing_for=600)
    assert phases(run(rule, (0, 85), (60, 50))) == "pending ok"


def test_hysteresis_keeps_firing_until_the_clear_line() -> None:
    rule = ThresholdRule("above", 90, clear_at=80)
    values = [70, 95, 85, 81, 80, 85]
    states = run(rule, *enumerate(values))
    assert phases(states) == "ok firing firing firing ok ok"


def test_hysteresis_for_a_below_rule() -> None:
    rule = ThresholdRule("below", 10, clear_at=20)
    states = run(rule, *enumerate([15, 5, 15, 19.9, 20, 15]))
    assert phases(states) == "ok firing firing firing ok ok"


def test_no_value_is_a_false_evaluation() -> None:
    states = run(ABOVE_80_FOR_5M, (0, 85), (60, None), (120, 85))
    assert phases(states) == "pending ok pending"


# -- a metric: display state, severity, since, NODATA and ERROR ---------------
def test_nodata_resets_the_rules_and_is_never_ok() -> None:
    evaluator = Evaluator({"cpu": CPU})
    evaluator.evaluate("cpu", 95, 0)
    shown = evaluator.evaluate("cpu", None, 60)
    assert shown.state is DisplayState.NODATA
    assert shown.severity is None
    assert shown.warning == RuleState(Phase.OK, 60)
    assert shown.rule_display(Severity.WARNING) is DisplayState.NODATA
    again = evaluator.evaluate("cpu", 95, 120)
    assert again.state is DisplayState.PENDING
    assert again.critical.active_since == 120


def test_a_metric_without_rules_is_ok_or_nodata() -> None:
    evaluator = Evaluator({})
    assert evaluator.evaluate("active_sessions", 12, 0).state is DisplayState.OK
    assert evaluator.evaluate("active_sessions", None, 5).state is DisplayState.NODATA


def test_keep_firing_for_holds_through_nodata_which_still_shows() -> None:
    rule = ThresholdRule("above", 80, keep_firing_for=120)
    evaluator = Evaluator({"cpu": MetricThresholds(warning=rule)})
    evaluator.evaluate("cpu", 85, 0)
    shown = evaluator.evaluate("cpu", None, 60)
    assert shown.state is DisplayState.NODATA
    assert shown.warning.phase is Phase.FIRING
    assert shown.severity is Severity.WARNING
    assert shown.rule_display(Severity.WARNING) is DisplayState.FIRING


def test_error_leaves_every_rule_state_exactly_as_it_was() -> None:
    evaluator = Evaluator({"cpu": CPU})
    before = evaluator.evaluate("cpu", 95, 0)
    first = evaluator.evaluate("cpu", None, 60, source_failed=True)
    second = evaluator.evaluate("cpu", 10, 120, source_failed=True)
    for shown in (first, second):
        assert shown.state is DisplayState.ERROR
        assert (shown.warning, shown.critical) == (before.warning, before.critical)
        assert shown.severity is Severity.CRITICAL  # what it was when the source failed
    assert (first.failed_polls, second.failed_polls) == (1, 2)
    assert second.since == 60
    # failed polls are not evaluations: the 5 minutes count from 0
    after = evaluator.evaluate("cpu", 95, 300)
    assert after.state is DisplayState.FIRING
    assert after.failed_polls == 0
    assert after.since == 300


def test_the_caller_may_count_failed_polls() -> None:
    evaluator = Evaluator({"cpu": CPU})
    assert evaluator.evaluate("cpu", None, 0, source_failed=True, failed_polls=7).failed_polls == 7


def test_the_worst_firing_severity_is_shown() -> None:
    evaluator = Evaluator({"cpu": CPU})
    both_pending = evaluator.evaluate("cpu", 95, 0)
    assert (both_pending.state, both_pending.severity) == (DisplayState.PENDING, Severity.CRITICAL)
    both_firing = evaluator.evaluate("cpu", 95, 300)
    assert (both_firing.state, both_firing.severity) == (DisplayState.FIRING, Severity.CRITICAL)
    warning_only = evaluator.evaluate("cpu", 85, 360)
    assert (warning_only.state, warning_only.severity) == (DisplayState.FIRING, Severity.WARNING)
    # warning firing beats critical pending: the worst *firing* severity is shown
    mixed = evaluator.evaluate("cpu", 95, 420)
    assert mixed.critical.phase is Phase.PENDING
    assert (mixed.state, mixed.severity) == (DisplayState.FIRING, Severity.WARNING)


def test_since_is_kept_while_the_shown_state_lasts() -> None:
    evaluator = Evaluator({"cpu": CPU})
    times = [0, 60, 120, 300, 360, 420]
    values = [50, 85, 85, 85, 95, 95]
    shown = [evaluator.evaluate("cpu", v, t) for t, v in zip(times, values, strict=True)]
    assert [(s.state.value, s.since) for s in shown] == [
        ("ok", 0),
        ("pending", 60),
        ("pending", 60),
        ("pending", 60),
        ("firing", 360),  # warning fires at 360 (held 5m since 60)
        ("firing", 360),
    ]
    assert [(t.previous, t.state, t.severity) for t in evaluator.history("cpu")] == [
        (None, DisplayState.OK, None),
        (DisplayState.OK, DisplayState.PENDING, Severity.WARNING),
        (DisplayState.PENDING, DisplayState.FIRING, Severity.WARNING),
    ]


def test_history_is_bounded() -> None:
    evaluator = Evaluator(
        {"memory": MetricThresholds(warning=ThresholdRule("above", 85))}, history=5
    )
    for t in range(50):
        evaluator.evaluate("memory", 90 if t % 2 else 50, t)
    history = evaluator.history("memory")
    assert len(history) == 5
    assert [t.at for t in history] == [45, 46, 47, 48, 49]
    assert evaluator.history("cpu") == ()
    assert evaluator.current("memory").at == 49
    assert set(evaluator.all_current()) == {"memory"}
