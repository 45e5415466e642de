import pytest
from hypothesis import given
from hypothesis import strategies as st

from lessay_console.config.durations import format_age, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300),
        ("500ms", 0.5),
        ("24h", 86400),
        ("1h30m", 5400),
        ("7d", 604800),
        ("2w", 1209600),
        ("1.5s", 1.5),
        (" 10s ", 10),
        ("0s", 0),
    ],
)
def test_parses_operator_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("5", "has no unit"),
        ("", "empty"),
        ("5 m", "not a duration"),
        ("5mm", "not a duration"),
        ("m5", "not a duration"),
        ("-5s", "not a duration"),
        ("5y", "not a duration"),
    ],
)
def test_rejects_malformed_durations_with_advice(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**10))
def test_format_and_parse_round_trip(millis: int) -> None:
    seconds = millis / 1000
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def test_ages_are_short_and_rounded() -> None:
    assert [format_age(s) for s in (4.2, 192, 7500, 277200)] == ["4s", "3m12s", "2h05m", "3d5h"]
