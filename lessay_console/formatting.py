"""Values, thresholds and durations as an operator reads them, for the CLI and the screens alike."""

from __future__ import annotations

from lessay_console.catalog import MetricSpec
from lessay_console.config.durations import format_age, format_duration
from lessay_console.config.model import ThresholdRule
from lessay_console.derived import Reading

HEALTH_WORDS = ("ok", "degraded", "down")


def format_number(value: float, unit: str) -> str:
    """143 ms, 3.7%, 1,765, 12.3 s: precision that fits the size of the number."""
    if unit == "" and float(value).is_integer():
        return f"{value:,.0f}"
    magnitude = abs(value)
    digits = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2 if magnitude >= 1 else 3
    if unit == "%":
        digits = min(digits, 1)
    text = f"{value:,.{digits}f}"
    return f"{text}%" if unit == "%" else f"{text} {unit}".rstrip()


def format_reading(spec: MetricSpec, reading: Reading) -> str:
    if reading.value is None:
        return "-"
    if spec.name == "api_health":
        level = int(reading.value)
        return HEALTH_WORDS[level] if 0 <= level < len(HEALTH_WORDS) else f"{reading.value:g}"
    text = format_number(reading.value, spec.unit)
    return f"≥{text}" if reading.at_least else text


def format_rule(rule: ThresholdRule | None, unit: str) -> str:
    """ ">80% 5m", "<90% 5m", "-" for no rule."""
    if rule is None:
        return "-"
    sign = ">" if rule.direction == "above" else "<"
    text = f"{sign}{rule.value:g}{unit}"
    if rule.for_seconds:
        text += " " + format_duration(rule.for_seconds)
    return text


def format_since(seconds: float) -> str:
    return format_age(seconds)
