"""The engine against promtool: with staleness 5m, a rules test gives Prometheus's alerts.

Each case is run twice: through `lessay_console.rulestest` (a rules test file
with `staleness = "5m"`, the real store and engine), and through
`promtool test rules`, with the states our engine computed at every
evaluation written as promtool's expectations: `exp_alerts` for the firing
alerts, and a `promql_expr_test` on `ALERTS{alertstate="pending"}` for the
pending ones. promtool must pass.

One shift is applied on the promtool side: Prometheus 2.x's lookback takes
samples in [t-5m, t], the console's store (as Prometheus 3's) in (t-5m, t]. The
rules read `cpu offset -1ms`, which gives 2.x the left-open window (and changes
nothing on 3.x, where samples are never 1 ms apart here).
`test_prometheus_2_lookback_includes_the_boundary` shows the difference.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lessay_console.config.durations import format_duration
from lessay_console.config.model import ThresholdRule
from lessay_console.rules import Phase, Severity
from lessay_console.rulestest import parse_rule_tests, run_file, simulate
from lessay_console.rulestest.runner import describe

LEVELS = (Severity.WARNING, Severity.CRITICAL)


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing (Debian package prometheus); CI=true never skips this")
        pytest.skip("promtool not installed (Debian package prometheus): equivalence not checked")
    return path


@dataclass(frozen=True)
class Case:
    interval: float
    values: str  # promtool notation, read the same by both sides
    rules: dict[Severity, ThresholdRule]
    until: float  # the last evaluation


def our_file(case: Case, alerts: str = "") -> str:
    """A rules test file for `case`, with staleness 5m as Prometheus's lookback."""
    lines = ['staleness = "5m"', "[thresholds.cpu]"]
    for level, rule in case.rules.items():
        fields = [
            f"{rule.direction} = {rule.value!r}",
            f'for = "{format_duration(rule.for_seconds)}"',
        ]
        if rule.keep_firing_for:
            fields.append(f'keep_firing_for = "{format_duration(rule.keep_firing_for)}"')
        lines.append(f"{level} = {{ {', '.join(fields)} }}")
    lines += [
        "[[tests]]",
        'name = "equivalence"',
        f'interval = "{format_duration(case.interval)}"',
        "[[tests.series]]",
        'metric = "cpu"',
        f'values = "{case.values}"',
    ]
    last = f'[[tests.alerts]]\nat = "{format_duration(case.until)}"\nmetric = "cpu"\nstate = "ok"\n'
    return "\n".join(lines) + "\n" + (alerts or last)


def our_timeline(case: Case) -> list[tuple[float, float | None, dict[Severity, Phase]]]:
    """Per evaluation: time, value, and each rule's phase, as the console computes them."""
    loaded = parse_rule_tests(our_file(case), "case.toml", {})
    timeline = []
    for now, states in simulate(loaded.tests[0], loaded.thresholds, until=case.until):
        cpu = states["cpu"]
        phases = {level: cpu.rule(level).phase for level in case.rules}  # type: ignore[union-attr]
        timeline.append((now, cpu.value, phases))
    return timeline


def our_expectations(case: Case, timeline: list) -> str:
    """The timeline as [[tests.alerts]]: the file must pass our own runner."""
    blocks = []
    for now, value, phases in timeline:
        for level, phase in phases.items():
            # an OK rule of a metric without a sample shows NODATA
            state = ("nodata" if value is None else "ok") if phase is Phase.OK else phase
            blocks.append(
                f'[[tests.alerts]]\nat = "{format_duration(now)}"\nmetric = "cpu"\n'
                f'severity = "{level}"\nstate = "{state}"\n'
            )
    return "".join(blocks)


def promtool_files(
    case: Case, timeline: list, directory: Path, offset: str = " offset -1ms"
) -> Path:
    rules = [f"groups:\n- name: g\n  interval: {format_duration(case.interval)}\n  rules:"]
    for level, rule in case.rules.items():
        op = ">" if rule.direction == "above" else "<"
        rules.append(
            f"  - alert: cpu_{level}\n    expr: cpu{offset} {op} {rule.value!r}\n"
            f"    for: {format_duration(rule.for_seconds)}\n"
            + (
                f"    keep_firing_for: {format_duration(rule.keep_firing_for)}\n"
                if rule.keep_firing_for
                else ""
            )
        )
    (directory / "rules.yml").write_text("\n".join(rules) + "\n")
    firing, pending = [], []
    for now, _, phases in timeline:
        at = format_duration(now)
        for level, phase in phases.items():
            exp = "[{}]" if phase is Phase.FIRING else "[]"
            firing.append(f"  - eval_time: {at}\n    alertname: cpu_{level}\n    exp_alerts: {exp}")
        samples = [
            f'      - labels: \'ALERTS{{alertname="cpu_{level}",alertstate="pending"}}\'\n'
            "        value: 1"
            for level, phase in phases.items()
            if phase is Phase.PENDING
        ]
        pending.append(
            f'  - expr: ALERTS{{alertstate="pending"}}\n    eval_time: {at}\n    exp_samples:'
            + ("\n" + "\n".join(samples) if samples else " []")
        )
    test = (
        f"rule_files: [rules.yml]\nevaluation_interval: {format_duration(case.interval)}\ntests:\n"
        f"- interval: {format_duration(case.interval)}\n  input_series:\n  - series: cpu\n"
        f"    values: '{case.values}'\n  alert_rule_test:\n"
        + "\n".join(firing)
        + "\n  promql_expr_test:\n"
        + "\n".join(pending)
        + "\n"
    )
    path = directory / "test.yml"
    path.write_text(test)
    return path


def show(case: Case, timeline: list) -> str:
    rows = [f"rules: {case.rules}", f"series ({format_duration(case.interval)}): {case.values}"]
    for now, value, phases in timeline:
        states = ", ".join(f"{level} {phase}" for level, phase in phases.items())
        rows.append(f"  {format_duration(now):>6}  value {value!s:>6}  {states}")
    return "\n".join(rows)


def check(case: Case, promtool: str, expected: dict[Severity, str] | None = None) -> None:
    """Our engine's phases (and `expected`, one letter per step: o p f) == promtool's."""
    timeline = our_timeline(case)
    ours = "our engine:\n" + show(case, timeline)
    if expected is not None:
        for level, letters in expected.items():
            got = "".join(phases[level].value[0] for _, _, phases in timeline)
            assert got == letters.replace(" ", ""), f"{level}: {got}\n{ours}"
    loaded = parse_rule_tests(our_file(case, our_expectations(case, timeline)), "case.toml", {})
    failures = [describe(outcome) for outcome in run_file(loaded).failures]
    assert not failures, "\n".join([*failures, ours])
    with tempfile.TemporaryDirectory() as directory:
        test = promtool_files(case, timeline, Path(directory))
        result = subprocess.run(
            [promtool, "test", "rules", str(test)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            cwd=directory,
        )
    assert result.returncode == 0, (
        f"{ours}\n\npromtool (exp: our engine, got: Prometheus):\n{result.stdout}{result.stderr}"
    )


def rule(
    direction: str = "above", value: float = 80, for_: float = 0, keep: float = 0
) -> ThresholdRule:
    return ThresholdRule(direction, value, for_seconds=for_, keep_firing_for=keep)  # type: ignore[arg-type]


M = 60.0
FIXED = [
    # for 5m across a dip, then steady firing
    (
        Case(M, "50 85x3 70 85x7", {Severity.WARNING: rule(for_=5 * M)}, 12 * M),
        {Severity.WARNING: "o pppp o ppppp ff"},
    ),
    # warning and critical together, expanded notation
    (
        Case(
            M,
            "70+5x6 60",
            {Severity.WARNING: rule(for_=2 * M), Severity.CRITICAL: rule(value=90, for_=M)},
            8 * M,
        ),
        {Severity.WARNING: "ooo ppf f oo", Severity.CRITICAL: "ooooo pf oo"},
    ),
    # gaps: a sample stays for 5m, then the series is absent; stale ends it at once
    (
        Case(M, "85 _x6 85 85 stale 85", {Severity.WARNING: rule()}, 12 * M),
        {Severity.WARNING: "fffff oo ff o fff"},
    ),
    # a below rule, NaN and infinities
    (
        Case(30, "50 10 NaN 5 -Inf Inf 15", {Severity.WARNING: rule("below", 20, for_=30)}, 4 * M),
        {Severity.WARNING: "o p o p f o p f f"},
    ),
    # keep_firing_for counts from the first false evaluation, through gaps too
    (
        Case(M, "85 50 85 stale _x8", {Severity.WARNING: rule(keep=3 * M)}, 12 * M),
        {Severity.WARNING: "ffffff ooooooo"},
    ),
    (
        Case(2 * M, "95x4 stale", {Severity.WARNING: rule(for_=4 * M, keep=90)}, 16 * M),
        {Severity.WARNING: "ppfff f ooo"},
    ),
]


@pytest.mark.parametrize(("case", "expected"), FIXED, ids=[c.values for c, _ in FIXED])
def test_fixed_cases_match_promtool(case: Case, expected: dict, promtool: str) -> None:
    check(case, promtool, expected)


NUMBERS = ["5", "10", "15", "20", "25", "50", "79", "80", "81", "85", "90", "95", "96"]
TOKENS = st.sampled_from(
    [*NUMBERS, "NaN", "Inf", "-Inf", "_", "_", "stale", "85x2", "_x3", "10+10x4", "100-5x3"]
)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    interval = draw(st.sampled_from([15.0, 30.0, 60.0, 120.0]))
    direction = draw(st.sampled_from(["above", "below"]))
    # (warning, critical), critical the worse; the tokens sit on and around them
    choices = [(80, 90), (85, 95), (50, 80)] if direction == "above" else [(20, 10), (15, 5)]
    limits = draw(st.sampled_from(choices))

    def level(value: float) -> ThresholdRule:
        for_ = draw(st.integers(0, 6)) * 60 * draw(st.sampled_from([0.5, 1.0]))
        keep = draw(st.sampled_from([0, 0, 30, 60, 90, 180, 300]))
        return ThresholdRule(direction, value, for_seconds=for_, keep_firing_for=keep)  # type: ignore[arg-type]

    rules = {Severity.WARNING: level(limits[0])}
    if draw(st.booleans()):
        rules[Severity.CRITICAL] = level(limits[1])
    values = draw(st.lists(TOKENS, min_size=1, max_size=24))
    steps = draw(st.integers(len(values) - 1, len(values) + 8))
    return Case(interval, " ".join(values), rules, steps * interval)


@given(case=cases())
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_drawn_cases_match_promtool(case: Case, promtool: str) -> None:
    check(case, promtool)


def test_prometheus_2_lookback_includes_the_boundary(promtool: str) -> None:
    """Why the rules read `offset -1ms`: without it, 2.x sees a sample exactly 5m old."""
    version = subprocess.run([promtool, "--version"], capture_output=True, text=True, check=False)
    if "version 2." not in version.stdout + version.stderr:
        pytest.skip("Prometheus 3 looks back left-open, as the console does")
    case = Case(M, "85", {Severity.WARNING: rule()}, 5 * M)
    timeline = our_timeline(case)
    assert [phases[Severity.WARNING] for _, _, phases in timeline][-1] is Phase.OK
    with tempfile.TemporaryDirectory() as directory:
        test = promtool_files(case, timeline, Path(directory), offset="")
        result = subprocess.run(
            [promtool, "test", "rules", str(test)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            cwd=directory,
        )
    assert result.returncode == 1
    assert "time: 5m" in result.stdout + result.stderr
