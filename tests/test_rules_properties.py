"""Properties of the threshold engine, against a reference written plainly from the definitions."""

from __future__ import annotations

import math
from itertools import accumulate

from hypothesis import given, settings
from hypothesis import strategies as st

from lessay_console.config.model import MetricThresholds, ThresholdRule
from lessay_console.rules import DisplayState, Evaluator, Phase, RuleState, step


def run(rule: ThresholdRule, *samples: tuple[float, float | None]) -> list[RuleState]:
    states, state = [], RuleState()
    for now, value in samples:
        state = step(rule, state, value, now)
        states.append(state)
    return states


def reference(rule: ThresholdRule, times: list[int], values: list[float | None]) -> list[str]:
    """Each evaluation's phase, straight from DESIGN section 6 and Prometheus's rules.

    The condition is the threshold, or the clear line while the previous
    evaluation fired. True: firing if it was firing, else firing when the run
    of true evaluations ending here spans `for`, else pending. False: still
    firing if it was firing and the run of false evaluations began less than
    keep_firing_for ago, else ok.
    """
    result: list[str] = []
    held: list[bool] = []
    for k, (now, value) in enumerate(zip(times, values, strict=True)):
        before = result[-1] if result else "ok"
        line = rule.clear_at if before == "firing" and rule.clear_at is not None else rule.value
        true = value is not None and (value > line if rule.direction == "above" else value < line)
        held.append(true)
        start = k
        while start > 0 and held[start - 1] == true:
            start -= 1
        if true:
            fired = before == "firing" or now - times[start] >= rule.for_seconds
            result.append("firing" if fired else "pending")
        elif before == "firing" and now - times[start] < rule.keep_firing_for:
            result.append("firing")
        else:
            result.append("ok")
    return result


VALUES = st.one_of(st.none(), st.sampled_from([0, 50, 79, 80, 81, 85, 89, 90, 95, math.nan]))


@st.composite
def rules_(draw: st.DrawFn) -> ThresholdRule:
    direction = draw(st.sampled_from(["above", "below"]))
    value = draw(st.sampled_from([80, 85, 90]))
    clear = draw(st.sampled_from([None, 5, 10]))
    clear_at = None if clear is None else value - clear if direction == "above" else value + clear
    return ThresholdRule(
        direction,
        value,
        for_seconds=draw(st.sampled_from([0, 30, 60, 90, 300])),
        keep_firing_for=draw(st.sampled_from([0, 0, 30, 60, 120])),
        clear_at=clear_at,
    )


samples = st.lists(st.tuples(st.integers(1, 90), VALUES), min_size=1, max_size=40)


@given(rule=rules_(), drawn=samples)
@settings(max_examples=500)  # cheap: a few ms each, and keep_firing_for needs long false runs
def test_the_engine_matches_the_reference(
    rule: ThresholdRule, drawn: list[tuple[int, float | None]]
) -> None:
    times = list(accumulate(gap for gap, _ in drawn))
    values = [value for _, value in drawn]
    states = run(rule, *zip(times, values, strict=True))
    expected = reference(rule, times, values)
    assert [s.phase.value for s in states] == expected
    for k, state in enumerate(states):  # a phase began where its streak began
        start = k
        while start > 0 and expected[start - 1] == expected[k]:
            start -= 1
        assert state.phase_since == times[start]
        assert (state.active_since is None) == (state.phase is Phase.OK)


@given(rule=rules_(), drawn=samples, failures=st.lists(st.integers(0, 40), max_size=10))
@settings(max_examples=300)
def test_failed_polls_are_invisible_to_the_rules(
    rule: ThresholdRule, drawn: list[tuple[int, float | None]], failures: list[int]
) -> None:
    times = list(accumulate(gap for gap, _ in drawn))
    plain, failing = (
        Evaluator({"m": MetricThresholds(warning=rule)}),
        Evaluator({"m": MetricThresholds(warning=rule)}),
    )
    for k, (now, value) in enumerate(zip(times, (v for _, v in drawn), strict=True)):
        for _ in range(failures.count(k)):  # failed polls just before this evaluation
            shown = failing.evaluate("m", value, now - 0.5, source_failed=True)
            assert shown.state is DisplayState.ERROR
        expected = plain.evaluate("m", value, now)
        got = failing.evaluate("m", value, now)
        assert got.warning == expected.warning
        assert got.state is expected.state
        assert (got.state is DisplayState.NODATA) == (value is None)
        if value is not None:
            firing = expected.warning.phase is Phase.FIRING
            assert (got.state is DisplayState.FIRING) == firing
