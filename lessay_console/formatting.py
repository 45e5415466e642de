"""Values, thresholds and durations as an operator reads them, for the CLI and the screens alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lessay_console.catalog import MetricSpec
from lessay_console.config.durations import format_age, format_duration
from lessay_console.config.model import MetricThresholds, ThresholdRule
from lessay_console.derived import Reading
from lessay_console.rules import DisplayState, MetricState, Severity

if TYPE_CHECKING:
    from lessay_console.monitor import MetricStatus

HEALTH_WORDS = ("ok", "degraded", "down")
# the `backups` metric's levels, as `lessay-console backups` words them
BACKUP_WORDS = ("OK", "WARN", "CRIT")


def format_number(value: float, unit: str) -> str:
    """143 ms, 3.7%, 1,765, 12.3 s: precision that fits the size of the number."""
    if unit == "" and float(value).is_integer():
        return f"{value:,.0f}"
    if unit == "ms" and abs(value) >= 999.5:  # what would round to "1,000 ms" reads "1.00 s"
        value, unit = value / 1000, "s"
    if unit == "%":  # always one decimal: 99.96 and 100 must not flicker between widths
        return f"{value:,.1f}%"
    magnitude = abs(value)
    digits = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2 if magnitude >= 1 else 3
    text = f"{value:,.{digits}f}"
    return f"{text}%" if unit == "%" else f"{text} {unit}".rstrip()


def format_reading(spec: MetricSpec, reading: Reading) -> str:
    if reading.value is None:
        return "-"
    if spec.name == "api_health":
        level = int(reading.value)
        return HEALTH_WORDS[level] if 0 <= level < len(HEALTH_WORDS) else f"{reading.value:g}"
    if spec.name == "backups":
        level = int(reading.value)
        return BACKUP_WORDS[level] if 0 <= level < len(BACKUP_WORDS) else f"{reading.value:g}"
    text = format_number(reading.value, spec.unit)
    return f"≥{text}" if reading.at_least else text


def format_rule(rule: ThresholdRule | None, unit: str) -> str:
    """ ">80% 5m", "<90% 5m", "-" for no rule."""
    if rule is None:
        return "-"
    sign = ">" if rule.direction == "above" else "<"
    value, shown_unit = rule.value, unit
    if unit == "ms" and value >= 1000:  # "1.5s" reads faster than "1500ms"
        value, shown_unit = value / 1000, "s"
    text = f"{sign}{value:g}{shown_unit}"
    if rule.for_seconds:
        text += " " + format_duration(rule.for_seconds)
    return text


def format_since(seconds: float) -> str:
    return format_age(seconds)


def state_word(state: MetricState) -> str:
    """The word that tells the state without colour: OK, PENDING, WARN, CRIT, NODATA, ERROR."""
    if state.state is DisplayState.FIRING and state.severity is not None:
        return "CRIT" if state.severity is Severity.CRITICAL else "WARN"
    return state.state.value.upper()


def state_class(state: MetricState) -> str:
    """The CSS class a widget takes for the state: -ok, -pending, -warn, -crit, -nodata, -error."""
    return "-" + state_word(state).lower()


STATE_CLASSES = ("-ok", "-pending", "-warn", "-crit", "-nodata", "-error")


def format_held(seconds: float) -> str:
    """How long a state has held, coarse so that it changes at most once a minute:
    "<1m", "3m", "1h05m", "2d3h"."""
    if seconds < 60:
        return "<1m"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h"


def format_thresholds(thresholds: MetricThresholds, unit: str) -> str:
    """ "warn >80% 5m · crit >90% 5m", or "no threshold"."""
    parts = []
    if thresholds.warning:
        parts.append("warn " + format_rule(thresholds.warning, unit))
    if thresholds.critical:
        parts.append("crit " + format_rule(thresholds.critical, unit))
    return " · ".join(parts) or "no threshold"


def format_why(status: MetricStatus) -> str:
    """Why a metric has no fresh value, and how old the last one is; "" when it has one."""
    state = status.state.state
    if state not in (DisplayState.NODATA, DisplayState.ERROR):
        return ""
    reason = status.error or status.reading.detail or "no sample within the staleness window"
    if state is DisplayState.ERROR:
        reason = f"{reason} ({status.state.failed_polls} failed polls)"
    if status.age is not None:
        reason += f"; last value {format_age(status.age)} ago"
    return reason
