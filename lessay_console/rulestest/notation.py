"""Promtool's series notation: `"50 85x6 _ stale 0+10x5"` into one value per interval.

Items are separated by spaces; each is one of

| item | values |
|---|---|
| `N` | the number N: `85`, `-2`, `0.5`, `1e3`, `Inf`, `-Inf`, `NaN` |
| `_` | no sample at this step |
| `stale` | a staleness marker: the series ends here, absent at once |
| `AxN` | A, repeated N+1 times |
| `A+BxN`, `A-BxN` | N+1 values: A, A+B, ..., A+N*B |
| `_xN` | N steps without a sample |

As in Prometheus, `A+BxN` adds B step by step, so `0.1+0.1x2` gives the same
floating-point values promtool does.

    >>> parse_series("1 2x2 _ 0+10x2 _x2 stale")
    (1.0, 2.0, 2.0, 2.0, None, 0.0, 10.0, 20.0, None, None, nan)
"""

from __future__ import annotations

import re

from lessay_console.samples import STALE

# Enough for a day at 1 s; a typo such as "1x1000000000" must not eat the memory.
MAX_VALUES = 100_000

_NUMBER = r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[Ii]nf|NaN|nan)"
_UNSIGNED = r"(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[Ii]nf)"
_PLAIN = re.compile(rf"^{_NUMBER}$")
_REPEAT = re.compile(rf"^({_NUMBER})x(\S+)$")
_STEP = re.compile(rf"^({_NUMBER})([+-])({_UNSIGNED})x(\S+)$")
_BLANKS = re.compile(r"^_x(\S+)$")

_SINGLE: dict[str, float | None] = {"_": None, "stale": STALE}
FORMS = 'N, _, stale, AxN, A+BxN, A-BxN or _xN (as in "50 85x6 _ stale")'


class NotationError(ValueError):
    """A series string that promtool's notation does not allow; the message says how to fix it."""


def parse_series(text: str) -> tuple[float | None, ...]:
    """The values of `text`, one per interval: a float, STALE, or None for no sample."""
    values: list[float | None] = []
    items = text.split()
    if not items:
        raise NotationError(f"no values; write {FORMS}")
    for position, item in enumerate(items, start=1):
        try:
            values.extend(_expand(item))
        except NotationError as error:
            raise NotationError(f"item {position} {item!r}: {error}") from None
        if len(values) > MAX_VALUES:
            raise NotationError(f"more than {MAX_VALUES} values; is a repeat count too large?")
    return tuple(values)


def _expand(item: str) -> list[float | None]:
    if item in _SINGLE:
        return [_SINGLE[item]]
    if _PLAIN.match(item):
        return [float(item)]
    if blanks := _BLANKS.match(item):
        return [None] * _count(blanks[1])
    if repeat := _REPEAT.match(item):
        return [float(repeat[1])] * (_count(repeat[2]) + 1)
    if steps := _STEP.match(item):
        return _steps(float(steps[1]), steps[2], float(steps[3]), _count(steps[4]))
    return _explain(item)


def _steps(value: float, sign: str, increment: float, count: int) -> list[float | None]:
    if sign == "-":
        increment = -increment
    expanded: list[float | None] = []
    for _ in range(count + 1):
        expanded.append(value)
        value += increment  # step by step, as promtool does
    return expanded


def _count(text: str) -> int:
    if not text.isdigit():
        raise NotationError(f"the count after x must be a whole number such as 5, not {text!r}")
    count = int(text)
    if count > MAX_VALUES:
        raise NotationError(f"the count {count} is more than {MAX_VALUES} values")
    return count


def _explain(item: str) -> list[float | None]:
    """Raise with the most likely fix for an item no form matched."""
    lowered = item.lower()
    if lowered in {"stale", "nan", "inf", "-inf", "+inf"} or lowered.startswith("stalex"):
        advice = "write stale, NaN, Inf or -Inf (a repeated stale is not promtool notation)"
    elif "x" not in item:
        advice = f"not a number; write {FORMS}"
    elif item.endswith("x"):
        advice = f"a count must follow x, as in {item}5"
    elif item.startswith("x"):
        advice = f"a value must come before x, as in 0{item}"
    else:
        advice = f"not promtool notation; write {FORMS}"
    raise NotationError(advice)
