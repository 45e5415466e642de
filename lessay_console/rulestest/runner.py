"""Running rules tests: synthetic series through the real store and engine, then the report.

Each test is simulated as the console would see it: the series' samples go
into a `MetricStore` at 0, interval, 2 x interval, ...; the engine evaluates
every metric at each of those times (as Prometheus evaluates a rule group
every interval), reading the value with `Series.latest(at, staleness)`, so a
sample older than the staleness window or a staleness marker is NODATA. An
expectation is checked against the last evaluation at or before its `at`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from lessay_console.config.durations import format_duration
from lessay_console.config.model import MetricThresholds
from lessay_console.rules import DisplayState, Evaluator, MetricState, Phase
from lessay_console.rulestest.loader import (
    Expectation,
    RuleTest,
    RuleTestFile,
    RuleTestFileError,
    load_rule_tests,
)
from lessay_console.store import MetricStore

# an `at` a hair under a multiple of the interval still belongs to that evaluation
_STEP_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Outcome:
    """One expectation checked: what was expected, what the engine showed."""

    test: RuleTest
    expectation: Expectation
    got: DisplayState | None
    state: MetricState

    @property
    def passed(self) -> bool:
        return self.got == self.expectation.state


@dataclass(frozen=True, slots=True)
class FileResult:
    path: str
    tests: int
    outcomes: tuple[Outcome, ...]

    @property
    def failures(self) -> tuple[Outcome, ...]:
        return tuple(outcome for outcome in self.outcomes if not outcome.passed)


def step_of(at: float, interval: float) -> int:
    """The index of the last evaluation at or before `at`."""
    return math.floor(at / interval + _STEP_TOLERANCE)


def simulate(
    test: RuleTest, thresholds: dict[str, MetricThresholds], until: float | None = None
) -> Iterator[tuple[float, dict[str, MetricState]]]:
    """Each evaluation time from 0 to `until` (default: the last expectation) and its states."""
    store = MetricStore(retention=math.inf)
    for series in test.series:
        for index, value in enumerate(series.values):
            if value is not None:
                store.append(series.metric, (), index * test.interval, value)
    metrics = [series.metric for series in test.series]
    evaluator = Evaluator({m: thresholds.get(m, MetricThresholds()) for m in metrics})
    if until is None:
        until = max((e.at for e in test.expectations), default=0.0)
    for step in range(step_of(until, test.interval) + 1):
        now = step * test.interval
        states = {}
        for metric in metrics:
            sample = None
            for ref in store.select(metric):
                sample = ref.series.latest(now, test.staleness)
            value = sample[1] if sample is not None else None
            states[metric] = evaluator.evaluate(metric, value, now)
        yield now, states


def run_test(test: RuleTest, thresholds: dict[str, MetricThresholds]) -> list[Outcome]:
    """Every expectation of `test`, checked, in time order."""
    by_step: dict[int, list[Expectation]] = {}
    for expectation in test.expectations:
        by_step.setdefault(step_of(expectation.at, test.interval), []).append(expectation)
    outcomes = []
    for step, (_, states) in enumerate(simulate(test, thresholds)):
        for expectation in by_step.get(step, ()):
            state = states[expectation.metric]
            if expectation.severity is None:
                got: DisplayState | None = state.state
            else:
                got = state.rule_display(expectation.severity)
            outcomes.append(Outcome(test, expectation, got, state))
    return sorted(outcomes, key=lambda o: o.expectation.at)


def run_file(loaded: RuleTestFile) -> FileResult:
    outcomes = [o for test in loaded.tests for o in run_test(test, loaded.thresholds)]
    return FileResult(loaded.path, len(loaded.tests), tuple(outcomes))


# -- the report ------------------------------------------------------------
def describe(outcome: Outcome) -> str:
    """One failure as a line: what, expected, got, and the state behind it."""
    e, state = outcome.expectation, outcome.state
    what = e.metric if e.severity is None else f"{e.metric} {e.severity}"
    got = outcome.got.value if outcome.got is not None else "nothing"
    if e.severity is None and state.severity is not None:
        got += f" {state.severity}"
    where = f" [line {e.line}]" if e.line is not None else ""
    return f"{what}: expected {e.state}, got {got} ({_detail(outcome)}){where}"


def _detail(outcome: Outcome) -> str:
    state, severity = outcome.state, outcome.expectation.severity
    if state.value is None:
        parts = [f"no sample within {format_duration(outcome.test.staleness)}"]
    else:
        parts = []
    rule = state.rule(severity) if severity is not None else None
    if rule is not None and rule.phase_since is not None:
        parts.append(f"{rule.phase} since {format_duration(rule.phase_since)}")
        if rule.phase is Phase.FIRING and rule.active_since != rule.phase_since:
            parts.append(f"active since {format_duration(rule.active_since or 0.0)}")
        if rule.keep_firing_since is not None:
            since = format_duration(rule.keep_firing_since)
            parts.append(f"kept firing by keep_firing_for since {since}")
    elif severity is None:
        parts.append(f"{state.state} since {format_duration(state.since)}")
    if state.value is not None:
        parts.append(f"value {state.value:g}")
    return ", ".join(parts)


def report(result: FileResult, out: TextIO) -> None:
    """Failures grouped by test and time, then one line for the file."""
    heading = None
    for outcome in result.failures:
        at = format_duration(outcome.expectation.at)
        current = (outcome.test.name, at)
        if current != heading:
            heading = current
            out.write(f'FAIL {result.path}: "{outcome.test.name}" at {at}\n')
        out.write(f"  {describe(outcome)}\n")
    total, failed = len(result.outcomes), len(result.failures)
    counts = f"{result.tests} test{_s(result.tests)}, {total} expectation{_s(total)}"
    if failed:
        out.write(f"FAIL {result.path}: {failed} of {total} expectations failed ({counts})\n")
    else:
        out.write(f"ok   {result.path} ({counts})\n")


def run_command(files: Sequence[Path], config_option: Path | None, out: TextIO, err: TextIO) -> int:
    """`lessay-console rules test FILE...`: 0 all pass, 1 an expectation failed, 2 a bad file."""
    from lessay_console.config import Config, ConfigError, find_config, load_config

    try:
        found = find_config(config_option)
        config = load_config(found.path) if found else Config()
    except ConfigError as error:
        _problems(error.problems, "the configuration", err)
        return 2
    origin = f"configuration {found.path}" if found else "the guide's defaults (no configuration)"
    out.write(f"# thresholds: {origin}, unless a file sets its own\n")
    bad, results = 0, []
    for path in files:
        try:
            loaded = load_rule_tests(path, config.thresholds)
        except RuleTestFileError as error:
            bad += 1
            _problems(error.problems, str(path), err)
            continue
        result = run_file(loaded)
        report(result, out)
        results.append(result)
    failed = sum(len(r.failures) for r in results)
    out.write(_summary(results, failed, bad) + "\n")
    return 2 if bad else 1 if failed else 0


def _summary(results: list[FileResult], failed: int, bad: int) -> str:
    total = sum(len(r.outcomes) for r in results)
    tests = sum(r.tests for r in results)
    ran = f"{len(results)} file{_s(len(results))}, {tests} test{_s(tests)}, {total} expectations"
    verdict = f"{failed} failed" if failed else "all passed" if results else "nothing ran"
    return f"{ran}: {verdict}" + (f"; {bad} bad file{_s(bad)}" if bad else "")


def _problems(problems: Sequence[object], what: str, err: TextIO) -> None:
    for problem in problems:
        err.write(f"{problem}\n")
    count = len(problems)
    err.write(f"{what}: {count} problem{_s(count)} found\n")


def _s(count: int) -> str:
    return "" if count == 1 else "s"
