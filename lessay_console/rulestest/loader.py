"""Reading a rules test file into typed tests, every problem collected as `file:line: key: reason`.

The format is described in the package docstring (`lessay_console.rulestest`).
Validation reuses the configuration's machinery (`TableReader`, `Problems`,
`KeyLocator`) and the configuration's own reader for `[thresholds.NAME]`, so
the syntax cannot drift from the config file's. What is added here is arrays
of tables: their keys read `tests[0].series[1].values`, and the line of each
element is located.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from lessay_console.catalog import METRICS

# the config loader's own helpers, so that keys and TOML errors read the same in both files
from lessay_console.config.loader import KeyLocator, syntax_problem
from lessay_console.config.model import MetricThresholds
from lessay_console.config.reader import Problem, Problems, TableReader
from lessay_console.config.sections import read_config
from lessay_console.rules import DisplayState, Severity, rule_of
from lessay_console.rulestest.notation import MAX_VALUES, NotationError, parse_series

EXPECTABLE = ("ok", "pending", "firing", "nodata")


@dataclass(frozen=True, slots=True)
class SeriesInput:
    """One metric's synthetic samples: a value (or None: no sample) per interval."""

    metric: str
    values: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a metric (or one of its rules, with `severity`) should show at `at`."""

    at: float
    metric: str
    severity: Severity | None
    state: DisplayState
    line: int | None = None


@dataclass(frozen=True, slots=True)
class RuleTest:
    """One [[tests]]: series sampled every `interval`, and what to expect when."""

    name: str
    interval: float
    staleness: float
    series: tuple[SeriesInput, ...]
    expectations: tuple[Expectation, ...]
    line: int | None = None


@dataclass(frozen=True, slots=True)
class RuleTestFile:
    """A valid file: its tests, and the thresholds they run against."""

    path: str
    thresholds: dict[str, MetricThresholds]
    tests: tuple[RuleTest, ...]


class RuleTestFileError(Exception):
    """The file cannot be run; `problems` lists every reason, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def load_rule_tests(path: Path, thresholds: dict[str, MetricThresholds]) -> RuleTestFile:
    """Read and validate `path`; `thresholds` (the configured) apply where the file sets none."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RuleTestFileError([Problem(name, "", f"cannot be read: {error.strerror}")]) from None
    except UnicodeDecodeError as error:
        message = f"is not UTF-8 text (byte {error.start})"
        raise RuleTestFileError([Problem(name, "", message)]) from None
    return parse_rule_tests(text, name, thresholds)


def parse_rule_tests(text: str, name: str, thresholds: dict[str, MetricThresholds]) -> RuleTestFile:
    """Validate the TOML `text` of a file called `name`; raise RuleTestFileError listing all."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RuleTestFileError([syntax_problem(name, error)]) from None
    locator = KeyLocator(text)
    problems = Problems(name, locate=locator)
    root = TableReader(data, (), problems)
    effective = _thresholds(root, thresholds)
    default_staleness = root.duration("staleness", None, minimum=0.001)
    tests = tuple(
        _test(table, effective, default_staleness, locator)
        for table in root.tables("tests", what="[[tests]]")
    )
    root.finish()
    if problems.items:
        ordered = sorted(problems.items, key=lambda p: p.line if p.line is not None else 1 << 30)
        raise RuleTestFileError(ordered)
    return RuleTestFile(name, effective, tests)


def _thresholds(
    root: TableReader, configured: dict[str, MetricThresholds]
) -> dict[str, MetricThresholds]:
    """The configured thresholds, with each metric the file names replaced whole.

    A metric in the file takes exactly the levels written there, so that a
    test file says everything it tests; a level left out is off.
    """
    effective = dict(configured)
    table = root.table("thresholds")
    if table is None:
        return effective
    # A level the file leaves out is "off", so that the config's own reader
    # (same syntax, checks and messages) neither inherits nor checks it.
    written = {
        metric: {"warning": "off", "critical": "off", **levels}
        if isinstance(levels, dict)
        else levels
        for metric, levels in table.data.items()
    }
    merged = read_config(TableReader({"thresholds": written}, (), root.problems)).thresholds
    for metric, levels in written.items():
        if metric in METRICS and isinstance(levels, dict):
            effective[metric] = merged[metric]
    return effective


def _test(
    t: TableReader,
    thresholds: dict[str, MetricThresholds],
    default_staleness: float | None,
    locator: KeyLocator,
) -> RuleTest:
    name = t.string("name", "", required=True)
    interval = t.duration("interval", 60.0, minimum=0.001)
    staleness = t.duration("staleness", default_staleness, minimum=0.001)
    if staleness is None:
        staleness = 3 * interval  # DESIGN section 6: 3 x the source interval
    series: dict[str, SeriesInput] = {}
    named: set[str] = set()  # with bad values too: one mistake, one problem
    for s in t.tables("series", what="[[tests.series]]"):
        metric = _metric(s)
        values = _values(s)
        if metric in named:
            s.problem("metric", f"{metric!r} has a series already in this test")
        elif metric is not None:
            named.add(metric)
            if values is not None:
                series[metric] = SeriesInput(metric, values)
        s.finish()
    expectations = tuple(
        _expectation(a, thresholds, named, interval, locator)
        for a in t.tables("alerts", what="[[tests.alerts]]")
    )
    t.finish()
    return RuleTest(
        name, interval, staleness, tuple(series.values()), expectations, locator(t.keypath)
    )


def _metric(t: TableReader) -> str | None:
    metric = t.string("metric", None, required=True)
    if metric is None or metric in METRICS:
        return metric
    hint = difflib.get_close_matches(metric, METRICS, n=1)
    t.problem(
        "metric",
        f"no such metric {metric!r}; "
        + (f"did you mean {hint[0]!r}?" if hint else "known: " + ", ".join(METRICS)),
    )
    return None


def _values(t: TableReader) -> tuple[float | None, ...] | None:
    text = t.string("values", None, required=True)
    if text is None:
        return None
    try:
        return parse_series(text)
    except NotationError as error:
        t.problem("values", str(error))
        return None


def _expectation(
    t: TableReader,
    thresholds: dict[str, MetricThresholds],
    named: set[str],
    interval: float,
    locator: KeyLocator,
) -> Expectation:
    if not t.has("at"):
        t.problem("at", 'is required: the evaluation time, such as "5m"')
    at = t.duration("at", 0.0)
    if at / interval > MAX_VALUES:
        t.problem("at", f"is more than {MAX_VALUES} intervals after the start")
        at = 0.0
    metric = _metric(t)
    if metric is not None and metric not in named:
        t.problem("metric", f"{metric!r} has no [[tests.series]] in this test")
    level = _severity(t, thresholds, metric)
    state = t.string("state", "ok", required=True)
    if state not in EXPECTABLE:
        reason = " (a rules test has no failed polls)" if state == "error" else ""
        t.problem("state", f"{state!r} is not one of {', '.join(EXPECTABLE)}{reason}")
        state = "ok"
    t.finish()
    return Expectation(at, metric or "", level, DisplayState(state), locator(t.keypath))


def _severity(
    t: TableReader, thresholds: dict[str, MetricThresholds], metric: str | None
) -> Severity | None:
    text = t.string("severity", None)
    if text is None:
        return None
    if text not in {"warning", "critical"}:
        t.problem("severity", f"{text!r} is not warning or critical")
        return None
    level = Severity(text)
    if metric is not None and rule_of(thresholds.get(metric, MetricThresholds()), level) is None:
        t.problem("severity", f"{metric} has no {level} threshold (set [thresholds.{metric}])")
    return level
