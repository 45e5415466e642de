"""`lessay-console rules test` files: strict reading, the runner, its report, the examples."""

from __future__ import annotations

import sys
from io import StringIO
from pathlib import Path

import pytest

from lessay_console.config import Config
from lessay_console.config.model import MetricThresholds, ThresholdRule
from lessay_console.rules import DisplayState, Severity
from lessay_console.rulestest import (
    RuleTestFileError,
    load_rule_tests,
    parse_rule_tests,
    run_file,
    simulate,
)
from lessay_console.rulestest.runner import describe, report

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "rules"
GUIDE = Config().thresholds
CONSOLE = [sys.executable, "-m", "lessay_console"]


# -- files ------------------------------------------------------------------
GOOD = """\
[[tests]]
name = "cpu warns"
[[tests.series]]
metric = "cpu"
values = "50 85x6 70"
[[tests.alerts]]
at = "6m"
metric = "cpu"
severity = "warning"
state = "firing"
"""


def problems_of(text: str, thresholds: dict | None = None) -> list[str]:
    with pytest.raises(RuleTestFileError) as caught:
        parse_rule_tests(text, "t.toml", GUIDE if thresholds is None else thresholds)
    return [str(problem) for problem in caught.value.problems]


def test_a_good_file_is_read_with_its_defaults() -> None:
    loaded = parse_rule_tests(GOOD, "t.toml", GUIDE)
    (test,) = loaded.tests
    assert (test.name, test.interval, test.staleness) == ("cpu warns", 60, 180)
    assert test.series[0].values == (50, 85, 85, 85, 85, 85, 85, 85, 70)
    (expectation,) = test.expectations
    assert (expectation.at, expectation.severity, expectation.state, expectation.line) == (
        360,
        Severity.WARNING,
        DisplayState.FIRING,
        6,
    )
    assert loaded.thresholds == GUIDE


def test_staleness_from_the_file_or_the_test() -> None:
    text = (
        'staleness = "5m"\n'
        + GOOD
        + GOOD.replace('name = "cpu warns"', 'name = "b"\nstaleness = "30s"')
    )
    first, second = parse_rule_tests(text, "t.toml", GUIDE).tests
    assert (first.staleness, second.staleness) == (300, 30)


def test_every_problem_is_listed_with_its_line() -> None:
    text = """\
staleness = 5
[thresholds.cpux]
warning = { above = 80 }
[thresholds.memory]
warning = { above = 80, fro = "5m" }

[[tests]]
name = "one"
interval = "1m"
[[tests.series]]
metric = "cpu"
values = "50 85x 70"
[[tests.series]]
metric = "cpu"
values = "1"
[[tests.alerts]]
at = "3m"
metric = "cpu"
severity = "critcal"
state = "pending"

[[tests]]
nam = "two"
[[tests.series]]
metric = "cpuu"
values = "1 2"
[[tests.alerts]]
metric = "disk"
severity = "critical"
state = "error"
extra = 1
"""
    assert problems_of(text) == [
        't.toml:1: staleness: must be a duration string such as "5m", not an integer',
        "t.toml:2: thresholds.cpux: no such metric; did you mean 'cpu'?",
        "t.toml:5: thresholds.memory.warning.fro: unknown key; did you mean 'for'?",
        "t.toml:12: tests[0].series[0].values: item 2 '85x': a count must follow x, as in 85x5",
        "t.toml:14: tests[0].series[1].metric: 'cpu' has a series already in this test",
        "t.toml:19: tests[0].alerts[0].severity: 'critcal' is not warning or critical",
        "t.toml:22: tests[1].name: is required",
        "t.toml:23: tests[1].nam: unknown key; did you mean 'name'?",
        "t.toml:25: tests[1].series[0].metric: no such metric 'cpuu'; did you mean 'cpu'?",
        't.toml:27: tests[1].alerts[0].at: is required: the evaluation time, such as "5m"',
        "t.toml:28: tests[1].alerts[0].metric: 'disk' has no [[tests.series]] in this test",
        "t.toml:29: tests[1].alerts[0].severity: disk has no critical threshold "
        "(set [thresholds.disk])",
        "t.toml:30: tests[1].alerts[0].state: 'error' is not one of ok, pending, firing, nodata "
        "(a rules test has no failed polls)",
        "t.toml:31: tests[1].alerts[0].extra: unknown key; known keys here: at, metric, "
        "severity, state",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["t.toml: tests: is required: at least one [[tests]]"]),
        ("tests = []", ["t.toml:1: tests: is empty: give at least one [[tests]]"]),
        ("tests = 3", ["t.toml:1: tests: must be an array of tables, written [[tests]]"]),
        (
            '[[tests]]\nname = "x"',
            [
                "t.toml:1: tests[0].series: is required: at least one [[tests.series]]",
                "t.toml:1: tests[0].alerts: is required: at least one [[tests.alerts]]",
            ],
        ),
        (
            "[[tests]\n",
            ["t.toml:1:8: TOML syntax error: Expected ']]' at the end of an array declaration"],
        ),
        (
            GOOD.replace('state = "firing"', 'state = "fire"'),
            [
                "t.toml:10: tests[0].alerts[0].state: 'fire' is not one of "
                "ok, pending, firing, nodata"
            ],
        ),
        (
            GOOD.replace('at = "6m"', 'at = "6"'),
            ['t.toml:7: tests[0].alerts[0].at: \'6\' has no unit; write "6s" or "6m"'],
        ),
        (
            GOOD.replace('metric = "cpu"\nvalues', "values"),
            [
                "t.toml:3: tests[0].series[0].metric: is required",
                "t.toml:7: tests[0].alerts[0].metric: 'cpu' has no [[tests.series]] in this test",
            ],
        ),
        (
            GOOD.replace('name = "cpu warns"', 'name = "x"\ninterval = "0s"'),
            ["t.toml:3: tests[0].interval: must be at least 0.001s, not '0s'"],
        ),
        (
            GOOD + 'series = [{ metric = "memory", values = "1 y" }]\n',
            [
                "t.toml:11: tests[0].alerts[0].series: unknown key; known keys here: at, metric, "
                "severity, state"
            ],
        ),
    ],
)
def test_missing_and_wrong_fields(text: str, expected: list[str]) -> None:
    assert problems_of(text) == expected


def test_inline_arrays_of_tables_are_located_too() -> None:
    text = '[[tests]]\nname = "x"\nseries = [{ metric = "cpu", values = "1 y" }]\n' + (
        'alerts = [{ at = "0s", metric = "cpu", state = "ok" }]\n'
    )
    assert problems_of(text) == [
        "t.toml:3: tests[0].series[0].values: item 2 'y': not a number; write N, _, stale, AxN, "
        'A+BxN, A-BxN or _xN (as in "50 85x6 _ stale")'
    ]


def test_a_file_sets_whole_metrics_and_keeps_the_configured_rest() -> None:
    configured = dict(GUIDE, memory=MetricThresholds(warning=ThresholdRule("above", 50)))
    text = '[thresholds.cpu]\nwarning = { below = 20, for = "1m" }\n' + GOOD.replace(
        'severity = "warning"\nstate = "firing"', 'severity = "warning"\nstate = "ok"'
    )
    loaded = parse_rule_tests(text, "t.toml", configured)
    # the guide's critical `above 90` is not inherited, so a `below` warning is fine
    assert loaded.thresholds["cpu"] == MetricThresholds(warning=ThresholdRule("below", 20, 60))
    assert loaded.thresholds["memory"] == configured["memory"]
    assert not run_file(loaded).failures


def test_threshold_problems_are_the_configurations_own() -> None:
    text = "[thresholds.cpu]\nwarning = { above = 80, below = 10 }\ncritical = { above = 70 }\n"
    assert problems_of(text + GOOD) == [
        "t.toml:2: thresholds.cpu.warning: give either above or below, not both",
        "t.toml:3: thresholds.cpu.critical: 70 is less severe than warning 80; "
        "set both levels so that critical is the worse one",
    ]


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(RuleTestFileError, match="cannot be read"):
        load_rule_tests(tmp_path / "missing.toml", GUIDE)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(RuleTestFileError, match="not UTF-8"):
        load_rule_tests(binary, GUIDE)


# -- running ----------------------------------------------------------------
def single(values: str, interval: str = "1m", staleness: str = "", thresholds: str = "") -> object:
    text = thresholds + GOOD.replace('values = "50 85x6 70"', f'values = "{values}"').replace(
        'name = "cpu warns"', f'name = "t"\ninterval = "{interval}"\n{staleness}'
    )
    return parse_rule_tests(text, "t.toml", GUIDE).tests[0]


def test_staleness_is_the_stores_a_sample_as_old_as_the_window_is_gone() -> None:
    test = single("85 _x5", staleness='staleness = "3m"')
    states = [s["cpu"].state for _, s in simulate(test, GUIDE, until=240)]
    assert states == ["pending", "pending", "pending", "nodata", "nodata"]


def test_a_staleness_marker_ends_the_series_at_once() -> None:
    test = single("85 stale 85")
    assert [s["cpu"].value is None for _, s in simulate(test, GUIDE, until=120)] == [
        False,
        True,
        False,
    ]


def test_an_expectation_between_evaluations_sees_the_last_one() -> None:
    text = GOOD.replace('at = "6m"', 'at = "6m59s"')
    assert not run_file(parse_rule_tests(text, "t.toml", GUIDE)).failures
    early = GOOD.replace('at = "6m"', 'at = "5m59s"')
    assert len(run_file(parse_rule_tests(early, "t.toml", GUIDE)).failures) == 1


def test_a_failure_shows_expected_against_got() -> None:
    text = GOOD.replace('at = "6m"', 'at = "5m"') + (
        '[[tests.alerts]]\nat = "5m"\nmetric = "cpu"\nstate = "firing"\n'
        '[[tests.alerts]]\nat = "11m"\nmetric = "cpu"\nseverity = "warning"\nstate = "firing"\n'
    )
    result = run_file(parse_rule_tests(text, "examples/rules/cpu.toml", GUIDE))
    out = StringIO()
    report(result, out)
    assert out.getvalue() == (
        'FAIL examples/rules/cpu.toml: "cpu warns" at 5m\n'
        "  cpu warning: expected firing, got pending (pending since 1m, value 85) [line 6]\n"
        "  cpu: expected firing, got pending warning (pending since 1m, value 85) [line 11]\n"
        'FAIL examples/rules/cpu.toml: "cpu warns" at 11m\n'
        "  cpu warning: expected firing, got nodata (no sample within 3m, ok since 8m) "
        "[line 15]\n"
        "FAIL examples/rules/cpu.toml: 3 of 3 expectations failed (1 test, 3 expectations)\n"
    )


def test_a_firing_failure_says_since_when_and_why() -> None:
    text = (
        '[thresholds.cpu]\nwarning = { above = 80, for = "1m", keep_firing_for = "5m" }\n'
        + GOOD.replace('at = "6m"', 'at = "8m"').replace('state = "firing"', 'state = "ok"')
    )
    (failure,) = run_file(parse_rule_tests(text, "t.toml", GUIDE)).failures
    assert describe(failure) == (
        "cpu warning: expected ok, got firing (firing since 2m, active since 1m, "
        "kept firing by keep_firing_for since 8m, value 70) [line 8]"
    )


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_every_example_passes(path: Path) -> None:
    result = run_file(load_rule_tests(path, GUIDE))
    assert result.outcomes
    assert not result.failures, "\n".join(describe(f) for f in result.failures)


def test_there_is_an_example_for_every_threshold_of_the_guide() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.toml")} >= {*GUIDE, "flapping"}
