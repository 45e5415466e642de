"""The simulation behind the demo backend: pure state, no I/O, no threads.

:class:`DemoModel` advances in whole one-second steps of simulated time. Each
quantity is smoothed toward its scenario's target (time constant
:data:`TIME_CONSTANT`, so a scenario switch shows within seconds), with seeded
noise and a slow drift, the way a live service wanders. Same seed and the same
sequence of :meth:`DemoModel.advance_to` / :meth:`DemoModel.set_scenario` calls
give the same state, counters, histograms and log lines.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from lessay_console.demo.fleet import Fleet
from lessay_console.demo.logevents import LogEvents, ServiceStep, StepFacts
from lessay_console.demo.sampling import (
    LATENCY_BUCKETS,
    binomial,
    lognormal_cdf,
    lognormal_mean,
    poisson,
    smoothing_factor,
    split_by_weights,
)
from lessay_console.demo.scenarios import Scenario, get_scenario

SERVICES = ("api", "auth", "payments")
STATUS_CODES = ("200", "201", "400", "401", "404", "500", "502", "503")
POOL_MAX = 100
#: The pool keeps at most this many idle connections open.
POOL_IDLE_CAP = 25
SESSION_MEAN = 1800.0
LESSONS_STARTED_PER_SECOND = 3.0
LESSON_COMPLETION_RATIO = 0.72
PAYMENTS_PER_SECOND = 2.0
#: Steps simulated before the backend serves, so counters and logs have history.
WARMUP_SECONDS = 300
#: Seconds for a quantity to close 63 % of the gap to a new target (95 % in 3x).
TIME_CONSTANT = 2.0
DRIFT_PERIOD = 600.0
DRIFT_AMPLITUDE = 0.03
#: After a longer pause (a suspended laptop), skip ahead instead of replaying it.
MAX_CATCHUP_STEPS = 3600
_LOG_BUFFER_MAX = 50_000

# Client errors are the callers' doing and do not move with scenarios.
_CLIENT_ERROR_SHARES: dict[str, tuple[tuple[str, float], ...]] = {
    "api": (("400", 0.004), ("401", 0.003), ("404", 0.006)),
    "auth": (("400", 0.01), ("401", 0.04), ("404", 0.001)),
    "payments": (("400", 0.012), ("401", 0.002), ("404", 0.002)),
}
# Share of successful requests that create something (POST -> 201).
_CREATED_SHARE = {"api": 0.08, "auth": 0.3, "payments": 0.5}


@dataclass
class Histogram:
    """A cumulative latency histogram over :data:`LATENCY_BUCKETS`.

    Bucket counts accumulate as floats (observations x CDF at each bound) and are
    rounded when read, so small per-step counts are not biased by rounding, and
    the rounded counts are monotone across bounds and over time by construction.
    """

    accumulated: list[float] = field(default_factory=lambda: [0.0] * len(LATENCY_BUCKETS))
    count: int = 0
    total: float = 0.0

    def observe(self, n: int, median: float, sigma: float) -> None:
        """Record ``n`` observations from a lognormal(median, sigma)."""
        if n <= 0:
            return
        for i, bound in enumerate(LATENCY_BUCKETS):
            self.accumulated[i] += n * lognormal_cdf(bound, median, sigma)
        self.count += n
        self.total += n * lognormal_mean(median, sigma)

    def cumulative_counts(self) -> list[int]:
        """Cumulative counts per bound; the last (+Inf) equals :attr:`count`."""
        counts = [round(value) for value in self.accumulated]
        counts[-1] = self.count
        return counts


def _targets(scenario: Scenario) -> dict[str, float]:
    """The values each smoothed quantity moves toward under ``scenario``."""
    targets: dict[str, float] = {}
    for name in SERVICES:
        profile = scenario.service(name)
        targets[f"{name}.rps"] = profile.rps
        targets[f"{name}.median"] = profile.latency_median
        targets[f"{name}.sigma"] = profile.latency_sigma
        targets[f"{name}.errors"] = profile.server_error_ratio
    targets.update(
        {
            "db.qps": scenario.db_qps,
            "db.median": scenario.db_query_median,
            "db.sigma": scenario.db_query_sigma,
            "pool.demand": scenario.pool_demand,
            "payments.failure": scenario.payment_failure_ratio,
            "sessions.factor": scenario.session_factor,
            "idp.latency": scenario.idp_latency,
        }
    )
    return targets


class DemoModel:
    """A seeded, steppable Lessay deployment: counters, histograms, gauges, logs, fleet."""

    def __init__(self, seed: int, scenario: str, start_time: float, wall_start: float) -> None:
        self.seed = seed
        self.scenario: Scenario = get_scenario(scenario)
        self.start_time = start_time
        self.wall_start = wall_start
        self.time = start_time
        """Model time of the last step (whole seconds after ``start_time``)."""
        self.now = start_time
        """Latest time passed to :meth:`advance_to` (drives the fleet, which is not stepped)."""
        self.scenario_since = start_time
        # Seeded PRNGs for a reproducible simulation, not security (hence noqa S311).
        # Separate streams: changing how logs are drawn leaves the metrics unchanged.
        self._rng = random.Random(seed)  # noqa: S311
        self._log_events = LogEvents(random.Random(f"{seed}:logs"))  # noqa: S311
        self._drift_phase = self._rng.uniform(0.0, 2.0 * math.pi)
        self._alpha = smoothing_factor(TIME_CONSTANT)
        self._targets = _targets(self.scenario)
        self.levels = dict(self._targets)
        """Each smoothed quantity's current value, by key (``api.median``, ``pool.demand``...)."""
        self.requests = {name: dict.fromkeys(STATUS_CODES, 0) for name in SERVICES}
        self.request_durations = {name: Histogram() for name in SERVICES}
        self.query_durations = Histogram()
        self.pool_in_use = round(self.levels["pool.demand"] * POOL_MAX)
        self.pool_idle = min(POOL_IDLE_CAP, POOL_MAX - self.pool_in_use)
        self.payments = {"succeeded": 0, "failed": 0}
        self.active_sessions = SESSION_MEAN * self.scenario.session_factor
        self.lessons_started = 0
        self.lessons_completed = 0
        self.fleet = Fleet()
        self._logs: deque[dict[str, Any]] = deque(maxlen=_LOG_BUFFER_MAX)

    def wall_time(self, t: float) -> float:
        """The wall-clock time (epoch seconds) matching model time ``t``."""
        return self.wall_start + (t - self.start_time)

    def set_scenario(self, name: str) -> None:
        """Switch targets to scenario ``name``; quantities move there over seconds."""
        self.scenario = get_scenario(name)
        self._targets = _targets(self.scenario)
        self.scenario_since = self.now

    def advance_to(self, t: float) -> int:
        """Step the simulation up to time ``t``; returns how many steps were taken."""
        self.now = max(self.now, t)
        behind = math.floor(t - self.time)
        if behind > MAX_CATCHUP_STEPS:
            self.time += behind - MAX_CATCHUP_STEPS
            behind = MAX_CATCHUP_STEPS
        for _ in range(max(0, behind)):
            self.time += 1.0
            self._step()
        self.fleet.update(self.now)
        return max(0, behind)

    def drain_logs(self) -> list[dict[str, Any]]:
        """The log records produced since the last call, oldest first."""
        records = list(self._logs)
        self._logs.clear()
        return records

    def _step(self) -> None:
        for key, target in self._targets.items():
            self.levels[key] += self._alpha * (target - self.levels[key])
        drift = 1.0 + DRIFT_AMPLITUDE * math.sin(
            2.0 * math.pi * (self.time - self.start_time) / DRIFT_PERIOD + self._drift_phase
        )
        services = [self._step_service(name, drift) for name in SERVICES]
        db_median, db_sigma, slow_queries = self._step_database(drift)
        self._step_business(drift)
        facts = StepFacts(
            wall_time=self.wall_time(self.time),
            services=services,
            db_median=db_median,
            db_sigma=db_sigma,
            slow_queries=slow_queries,
            pool_in_use=self.pool_in_use,
            pool_max=POOL_MAX,
        )
        self._logs.extend(self._log_events.emit(facts))

    def _step_service(self, name: str, drift: float) -> ServiceStep:
        rng = self._rng
        profile = self.scenario.service(name)
        total = poisson(rng, self.levels[f"{name}.rps"] * drift)
        ratio = min(1.0, max(0.0, self.levels[f"{name}.errors"]))
        server_errors = split_by_weights(
            rng, binomial(rng, total, ratio), profile.server_error_codes
        )
        remaining = total - sum(server_errors.values())
        counts = self.requests[name]
        for code, share in _CLIENT_ERROR_SHARES[name]:
            drawn = binomial(rng, remaining, share)
            counts[code] += drawn
            remaining -= drawn
        created = binomial(rng, remaining, _CREATED_SHARE[name])
        counts["201"] += created
        counts["200"] += remaining - created
        for code, drawn in server_errors.items():
            counts[code] += drawn
        median = self.levels[f"{name}.median"] * drift * math.exp(rng.gauss(0.0, 0.04))
        sigma = self.levels[f"{name}.sigma"]
        self.request_durations[name].observe(total, median, sigma)
        # Requests above 1 s are what the service logs as "slow request".
        slow = total * (1.0 - lognormal_cdf(1.0, median, sigma))
        return ServiceStep(
            name=name,
            requests=total,
            server_errors=server_errors,
            median=median,
            sigma=sigma,
            slow_requests=slow,
            error_log=profile.error_log,
        )

    def _step_database(self, drift: float) -> tuple[float, float, float]:
        rng = self._rng
        queries = poisson(rng, self.levels["db.qps"] * drift)
        median = self.levels["db.median"] * drift * math.exp(rng.gauss(0.0, 0.04))
        sigma = self.levels["db.sigma"]
        self.query_durations.observe(queries, median, sigma)
        demand = self.levels["pool.demand"] * (1.0 + rng.gauss(0.0, 0.03))
        self.pool_in_use = min(POOL_MAX, max(0, round(demand * POOL_MAX)))
        self.pool_idle = min(POOL_IDLE_CAP, POOL_MAX - self.pool_in_use)
        # Queries above 0.5 s are what PostgreSQL logs with log_min_duration_statement.
        return median, sigma, queries * (1.0 - lognormal_cdf(0.5, median, sigma))

    def _step_business(self, drift: float) -> None:
        rng = self._rng
        attempts = poisson(rng, PAYMENTS_PER_SECOND * drift)
        failed = binomial(rng, attempts, min(1.0, max(0.0, self.levels["payments.failure"])))
        self.payments["failed"] += failed
        self.payments["succeeded"] += attempts - failed
        # A mean-reverting random walk: sessions wander around a target that
        # follows the scenario (they fall while logins fail).
        target = SESSION_MEAN * self.levels["sessions.factor"] * drift
        self.active_sessions += 0.1 * (target - self.active_sessions) + rng.gauss(0.0, 6.0)
        self.active_sessions = max(0.0, self.active_sessions)
        started = poisson(rng, LESSONS_STARTED_PER_SECOND * self.active_sessions / SESSION_MEAN)
        self.lessons_started += started
        self.lessons_completed += binomial(rng, started, LESSON_COMPLETION_RATIO)
