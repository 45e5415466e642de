"""`lessay-console rules test`: unit tests of threshold rules on synthetic series, like promtool's.

A test file is TOML. Every key is checked: an unknown key, a wrong type, bad
notation or an unknown metric is reported as `file:line: key: reason`, every
problem of the file at once, and the command exits 2.

```toml
# Optional: the staleness window of every test in the file (a test may set its
# own). A sample older than this is absent, and the metric shows NODATA.
# Default: 3 x the test's interval, as in the console (DESIGN section 6).
# Prometheus's lookback is 5m.
staleness = "5m"

# Optional: thresholds, the same syntax as [thresholds.NAME] in the
# configuration. A metric named here takes exactly the levels written (a level
# left out is off); every other metric keeps the configured thresholds (those
# of --config, or of the configuration found, or the guide's defaults).
[thresholds.cpu]
warning  = { above = 80, for = "5m" }
critical = { above = 90, for = "5m", keep_firing_for = "2m", clear_below = 85 }

[[tests]]                      # one or more
name = "CPU above 80% for 5 minutes warns"   # required, shown in failures
interval = "1m"                # optional, default "1m": the spacing of the
                               # samples and of the evaluations
# staleness = "3m"             # optional, this test only

[[tests.series]]               # one or more, one per metric
metric = "cpu"                 # a metric of lessay_console.catalog
values = "50 85x6 70 _ stale"  # promtool's series notation, one value per interval

[[tests.alerts]]               # one or more expectations
at = "3m"                      # evaluation time; checked against the last
                               # evaluation at or before it
metric = "cpu"                 # must have a series in this test
severity = "warning"           # optional: with it, the state of that rule;
                               # without it, the state the metric shows
state = "pending"              # ok | pending | firing | nodata
```

Series notation (promtool's, `notation.py`): a number (`85`, `-2`, `1e3`,
`Inf`, `-Inf`, `NaN`), `_` (no sample), `stale` (a staleness marker), `AxN`
(A, N+1 times), `A+BxN` / `A-BxN` (A, A+B, ..., A+N*B), `_xN` (N missing).
Sample k sits at k x interval.

Evaluation: the engine (`lessay_console.rules`) runs at 0, interval,
2 x interval, ... up to the last `at`, so `for` counts across evaluations as
in Prometheus. What a state means:

- with `severity`: the rule's phase (`ok`, `pending`, `firing`), except that
  an OK rule of a metric without a sample is `nodata` (NODATA is never OK);
  a rule held firing through a gap by `keep_firing_for` is `firing`.
- without `severity`: the metric's display state (`ok`, `pending`,
  `firing`, `nodata`), its worst rule.

With `staleness = "5m"` a file gives the same pending and firing alerts as
`promtool test rules` on the same series and rules (tests/test_rules_promtool.py
checks it), one difference aside: Prometheus 2.x's lookback includes a sample
exactly 5m old, the console's (as Prometheus 3's) does not.

Exit status: 0 when every expectation holds, 1 when one fails (the failure
shows expected against got), 2 when a file (or the configuration) is bad.
"""

from lessay_console.rulestest.loader import (
    Expectation,
    RuleTest,
    RuleTestFile,
    RuleTestFileError,
    SeriesInput,
    load_rule_tests,
    parse_rule_tests,
)
from lessay_console.rulestest.notation import NotationError, parse_series
from lessay_console.rulestest.runner import (
    FileResult,
    Outcome,
    run_command,
    run_file,
    run_test,
    simulate,
)

__all__ = [
    "Expectation",
    "FileResult",
    "NotationError",
    "Outcome",
    "RuleTest",
    "RuleTestFile",
    "RuleTestFileError",
    "SeriesInput",
    "load_rule_tests",
    "parse_rule_tests",
    "parse_series",
    "run_command",
    "run_file",
    "run_test",
    "simulate",
]
