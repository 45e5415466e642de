"""The simulation on its own, driven with explicit times: fast and deterministic."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lessay_console.demo import SCENARIOS, DemoModel, UnknownScenarioError
from lessay_console.demo.exposition import render_metrics
from lessay_console.demo.model import MAX_CATCHUP_STEPS, POOL_MAX, SERVICES, Histogram
from lessay_console.demo.sampling import LATENCY_BUCKETS
from tests.demo.demo_support import WALL0, histogram_quantile


def _model(seed: int = 1, scenario: str = "normal") -> DemoModel:
    model = DemoModel(seed, scenario, start_time=0.0, wall_start=WALL0)
    model.advance_to(300.0)
    return model


@dataclass
class Window:
    """What the model did between two moments: counter and bucket increases."""

    requests: dict[str, dict[str, int]]
    api_buckets: list[tuple[float, float]]
    service_buckets: dict[str, list[tuple[float, float]]]
    db_buckets: list[tuple[float, float]]
    payments: dict[str, int]

    def server_error_ratio(self, service: str) -> float:
        counts = self.requests[service]
        return sum(n for code, n in counts.items() if code.startswith("5")) / sum(counts.values())

    def failed_share(self) -> float:
        return self.payments["failed"] / sum(self.payments.values())


def _cumulative(histogram: Histogram) -> list[tuple[float, float]]:
    return list(zip(LATENCY_BUCKETS, map(float, histogram.cumulative_counts()), strict=True))


def _measure(model: DemoModel, seconds: int) -> Window:
    """Advance ``seconds`` and return the increases, as rate()/histogram_quantile see them."""
    before_requests = {s: dict(model.requests[s]) for s in SERVICES}
    before_hist = {s: _cumulative(model.request_durations[s]) for s in SERVICES}
    before_db = _cumulative(model.query_durations)
    before_payments = dict(model.payments)
    model.advance_to(model.time + seconds)

    def increase(
        before: list[tuple[float, float]], after: list[tuple[float, float]]
    ) -> list[tuple[float, float]]:
        return [(b, a - p) for (b, a), (_, p) in zip(after, before, strict=True)]

    service_buckets = {
        s: increase(before_hist[s], _cumulative(model.request_durations[s])) for s in SERVICES
    }
    return Window(
        requests={
            s: {c: n - before_requests[s][c] for c, n in model.requests[s].items()}
            for s in SERVICES
        },
        api_buckets=service_buckets["api"],
        service_buckets=service_buckets,
        db_buckets=increase(before_db, _cumulative(model.query_durations)),
        payments={k: v - before_payments[k] for k, v in model.payments.items()},
    )


def _settled(scenario: str, seed: int) -> tuple[DemoModel, Window]:
    model = _model(seed)
    model.set_scenario(scenario)
    model.advance_to(model.time + 30)  # 15 time constants: fully settled
    return model, _measure(model, 120)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_normal_is_in_the_documented_bands(seed: int) -> None:
    model, window = _settled("normal", seed)
    assert 0.12 <= histogram_quantile(0.95, window.api_buckets) <= 0.18
    assert 0.003 <= window.server_error_ratio("api") <= 0.006
    assert 0.03 <= histogram_quantile(0.95, window.db_buckets) <= 0.06
    assert 28 <= model.pool_in_use <= 42
    assert window.failed_share() <= 0.04
    assert 1600 <= model.active_sessions <= 2000


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_high_latency_is_slow_queries(seed: int) -> None:
    model, window = _settled("high-latency", seed)
    assert 0.9 <= histogram_quantile(0.95, window.api_buckets) <= 1.5
    assert 0.7 <= histogram_quantile(0.95, window.db_buckets) <= 1.0
    assert 80 <= model.pool_in_use <= 95


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_payment_failures_fail_a_third_of_payments(seed: int) -> None:
    _, window = _settled("payment-failures", seed)
    assert 0.2 <= window.server_error_ratio("payments") <= 0.4
    assert 0.2 <= window.failed_share() <= 0.4
    assert window.server_error_ratio("api") < 0.01


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_login_failures_fail_auth_and_sessions_fall(seed: int) -> None:
    model, window = _settled("login-failures", seed)
    assert 0.2 <= window.server_error_ratio("auth") <= 0.4
    assert window.requests["auth"]["500"] == 0  # upstream failures: 502 and 503 only
    assert model.active_sessions < 0.7 * 1800


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_db_exhaustion_pins_the_pool(seed: int) -> None:
    model, window = _settled("db-exhaustion", seed)
    assert (model.pool_in_use, model.pool_idle) == (POOL_MAX, 0)
    assert histogram_quantile(0.95, window.db_buckets) >= 0.5
    assert 0.04 <= window.server_error_ratio("api") <= 0.1
    assert window.requests["api"]["503"] > window.requests["api"]["500"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_error_spike_is_errors_at_normal_latency(seed: int) -> None:
    _, window = _settled("error-spike", seed)
    assert 0.08 <= window.server_error_ratio("api") <= 0.12
    assert histogram_quantile(0.95, window.api_buckets) <= 0.2


def test_a_switch_shows_within_seconds() -> None:
    model = _model()
    start = model.levels["api.median"]
    target = SCENARIOS["high-latency"].api.latency_median
    model.set_scenario("high-latency")
    model.advance_to(model.time + 6)
    assert model.levels["api.median"] - start >= 0.95 * (target - start)


def test_warm_up_makes_every_counter_non_zero() -> None:
    model = _model()
    assert all(model.requests[s]["200"] > 0 for s in SERVICES)
    assert min(model.payments.values()) > 0
    assert model.lessons_started > model.lessons_completed > 0
    assert 0.6 < model.lessons_completed / model.lessons_started < 0.85


def test_same_seed_same_steps_same_state() -> None:
    def run(seed: int) -> tuple[bytes, list[dict[str, object]]]:
        model = _model(seed)
        model.set_scenario("payment-failures")
        model.advance_to(330.5)
        model.fleet.deploy("2.5.0", 10, model.now)
        model.advance_to(345.0)
        return render_metrics(model)[0], model.drain_logs()

    first, second, other = run(42), run(42), run(43)
    assert first == second
    assert first[0] != other[0]
    assert first[1] != other[1]


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(UnknownScenarioError, match="normal, high-latency"):
        DemoModel(1, "nope", 0.0, WALL0)
    model = _model()
    with pytest.raises(UnknownScenarioError):
        model.set_scenario("nope")
    assert model.scenario.name == "normal"


def test_time_only_moves_forward_in_whole_steps() -> None:
    model = _model()
    assert model.advance_to(300.9) == 0
    assert model.advance_to(250.0) == 0
    assert model.advance_to(302.0) == 2
    assert model.time == 302.0


def test_a_long_pause_is_skipped_not_replayed() -> None:
    model = _model()
    assert model.advance_to(1e7) == MAX_CATCHUP_STEPS
    assert model.time == 1e7


def test_log_lines_are_in_the_past_and_ordered() -> None:
    model = DemoModel(1, "normal", start_time=0.0, wall_start=WALL0)
    model.advance_to(300.0)
    records = model.drain_logs()
    api = [r["ts"] for r in records if r["service"] == "api"]
    assert api == sorted(api)
    assert api[0].startswith("2025-03-03T12:34:56") and api[-1].startswith("2025-03-03T12:39:5")
    assert {r["level"] for r in records} <= {"info", "warning", "error"}
    assert model.drain_logs() == []


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    plan=st.lists(st.tuples(st.sampled_from(list(SCENARIOS)), st.integers(1, 20)), max_size=5),
)
def test_histograms_and_counters_stay_consistent(seed: int, plan: list[tuple[str, int]]) -> None:
    model = DemoModel(seed, "normal", start_time=0.0, wall_start=WALL0)
    previous = {s: dict(model.requests[s]) for s in SERVICES}
    for scenario, seconds in plan:
        model.set_scenario(scenario)
        model.advance_to(model.time + seconds)
        for histogram in [*model.request_durations.values(), model.query_durations]:
            counts = histogram.cumulative_counts()
            assert counts == sorted(counts)
            assert counts[-1] == histogram.count
            assert not math.isnan(histogram.total)
        for service in SERVICES:
            for code, count in model.requests[service].items():
                assert count >= previous[service][code]
        previous = {s: dict(model.requests[s]) for s in SERVICES}
        assert 0 <= model.pool_in_use <= POOL_MAX
        assert model.pool_in_use + model.pool_idle <= POOL_MAX
