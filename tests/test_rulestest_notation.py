"""Promtool's series notation, as `rules test` reads it: every form, and errors with advice."""

from __future__ import annotations

import doctest
import math

import pytest

from lessay_console.rulestest import NotationError, notation, parse_series
from lessay_console.samples import is_stale


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("85", (85.0,)),
        ("-2 +3 0.5 .5 1e3 1.5E-1", (-2.0, 3.0, 0.5, 0.5, 1000.0, 0.15)),
        ("Inf -Inf +Inf", (math.inf, -math.inf, math.inf)),
        ("_", (None,)),
        ("1 _ 2", (1.0, None, 2.0)),
        ("7x3", (7.0,) * 4),
        ("7x0", (7.0,)),
        ("0+10x3", (0.0, 10.0, 20.0, 30.0)),
        ("10-2x2", (10.0, 8.0, 6.0)),
        ("-1-2x2", (-1.0, -3.0, -5.0)),
        ("1e2+1e1x1", (100.0, 110.0)),
        ("_x3", (None, None, None)),
        ("_x0 1", (1.0,)),
        ("  50\t85x1\n _ ", (50.0, 85.0, 85.0, None)),
    ],
)
def test_every_form_of_the_notation(text: str, values: tuple) -> None:
    assert parse_series(text) == values


def test_nan_and_stale_are_different_nans() -> None:
    nan, stale = parse_series("NaN stale")
    assert math.isnan(nan) and not is_stale(nan)
    assert is_stale(stale)


def test_increments_add_step_by_step_as_promtool_does() -> None:
    assert parse_series("0.1+0.1x2") == (0.1, 0.2, 0.1 + 0.1 + 0.1)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ["no values", "AxN"]),
        ("50 85x", ["item 2 '85x'", "a count must follow x, as in 85x5"]),
        ("x5", ["item 1", "a value must come before x, as in 0x5"]),
        ("85y", ["'85y'", "not a number"]),
        ("1x-1", ["count after x must be a whole number", "'-1'"]),
        ("1x2.5", ["whole number", "'2.5'"]),
        ("1+x3", ["not promtool notation"]),
        ("stalex2", ["a repeated stale is not promtool notation"]),
        ("Stale", ["write stale"]),
        ("1x100001", ["more than 100000 values"]),
        ("1x60000 1x60000", ["more than 100000 values"]),
    ],
)
def test_bad_notation_says_where_and_how_to_fix_it(text: str, fragments: list[str]) -> None:
    with pytest.raises(NotationError) as caught:
        parse_series(text)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_notation_doctest() -> None:
    assert doctest.testmod(notation).failed == 0
