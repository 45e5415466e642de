"""The demo backend's scenarios, as data.

A scenario is the set of targets the simulation moves toward: request rates,
latency distributions, error ratios, pool demand, what ``/health`` and the
payment provider's status page say. Adding a scenario is adding one
:class:`Scenario` value to :data:`SCENARIOS`; no code changes.

Latency medians and sigmas are tuned so that Prometheus' ``histogram_quantile``
over the default buckets (what the console computes) lands in the documented
ranges, not only the true lognormal quantile.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lessay_console.demo.errors import UnknownScenarioError

#: Health check states, best first.
HEALTH_STATES = ("ok", "degraded", "down")
#: Statuspage v2 component states.
COMPONENT_STATES = ("operational", "degraded_performance", "partial_outage", "major_outage")
#: The payment provider's status page components, in page order.
STATUS_COMPONENTS = ("API", "Checkout", "Dashboard", "Webhooks")

_GENERIC_5XX = (("500", 0.6), ("502", 0.2), ("503", 0.2))


@dataclass(frozen=True)
class ServiceProfile:
    """What one service (api, auth, payments) looks like under a scenario."""

    rps: float
    """Mean requests per second."""
    latency_median: float
    """Median request duration, seconds."""
    latency_sigma: float
    """Log-space standard deviation of the request duration (lognormal)."""
    server_error_ratio: float
    """Share of requests answered with a 5xx."""
    server_error_codes: tuple[tuple[str, float], ...] = _GENERIC_5XX
    """How the 5xx split between codes (weights)."""
    error_log: str = "exception"
    """Which error lines the service logs (a template family in ``logevents``)."""
    health: str = "ok"
    """This service's state in ``/health`` checks (``ok``, ``degraded``, ``down``)."""


# Normal profiles. The 5xx baseline of ~0.4% is what a healthy service shows.
_NORMAL_API = ServiceProfile(
    rps=120.0, latency_median=0.048, latency_sigma=0.5, server_error_ratio=0.004
)
_NORMAL_AUTH = ServiceProfile(
    rps=15.0, latency_median=0.03, latency_sigma=0.5, server_error_ratio=0.004
)
_NORMAL_PAYMENTS = ServiceProfile(
    rps=2.0, latency_median=0.15, latency_sigma=0.45, server_error_ratio=0.004
)


@dataclass(frozen=True)
class Scenario:
    """Targets for one named state of the simulated deployment."""

    name: str
    description: str
    api: ServiceProfile = _NORMAL_API
    auth: ServiceProfile = _NORMAL_AUTH
    payments: ServiceProfile = _NORMAL_PAYMENTS
    db_qps: float = 300.0
    db_query_median: float = 0.015
    db_query_sigma: float = 0.6
    pool_demand: float = 0.35
    """Connections wanted / pool max. Above 1 the pool is pinned at max with none idle."""
    payment_failure_ratio: float = 0.01
    session_factor: float = 1.0
    """Active sessions relative to the usual ~1800."""
    database_health: str = "ok"
    idp_health: str = "ok"
    idp_latency: float = 0.04
    """IdP round trip seen by the auth service, seconds (shown in ``/health``)."""
    idp_unavailable: bool = False
    """Whether the ``/idp/...`` endpoints answer 503 (after a delay, like a timeout)."""
    status_indicator: str = "none"
    """Statuspage indicator: ``none``, ``minor``, ``major`` or ``critical``."""
    status_components: tuple[tuple[str, str], ...] = field(default=())
    """Components not ``operational``, as (name, state) pairs."""
    status_incident: str | None = None
    """Title of the open incident on the status page, if any."""

    def service(self, name: str) -> ServiceProfile:
        """The profile of service ``name`` (``api``, ``auth`` or ``payments``)."""
        profile: ServiceProfile = getattr(self, name)
        return profile


NORMAL = Scenario(name="normal", description="Healthy platform: every number in its usual band.")

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        NORMAL,
        replace(
            NORMAL,
            name="high-latency",
            description="Slow database queries: API p95 above 1 s, pool near full.",
            api=replace(NORMAL.api, latency_median=0.38, latency_sigma=0.6, error_log="timeout"),
            db_query_median=0.33,
            db_query_sigma=0.5,
            pool_demand=0.88,
            database_health="degraded",
        ),
        replace(
            NORMAL,
            name="payment-failures",
            description="Stripe API errors: ~30% of payments fail, provider status page red.",
            payments=replace(
                NORMAL.payments,
                latency_median=0.6,
                server_error_ratio=0.30,
                server_error_codes=(("502", 0.7), ("503", 0.2), ("500", 0.1)),
                error_log="stripe",
                health="degraded",
            ),
            payment_failure_ratio=0.30,
            status_indicator="major",
            status_components=(("API", "partial_outage"), ("Checkout", "degraded_performance")),
            status_incident="Elevated error rates on API requests",
        ),
        replace(
            NORMAL,
            name="login-failures",
            description="Identity provider unreachable: auth 5xx, sessions falling.",
            auth=replace(
                NORMAL.auth,
                latency_median=0.25,
                latency_sigma=0.8,
                server_error_ratio=0.30,
                server_error_codes=(("502", 0.5), ("503", 0.5)),
                error_log="idp",
                health="degraded",
            ),
            session_factor=0.55,
            idp_health="down",
            idp_latency=1.0,
            idp_unavailable=True,
        ),
        replace(
            NORMAL,
            name="db-exhaustion",
            description="Connection pool exhausted: no idle connections, API 503s.",
            api=replace(
                NORMAL.api,
                latency_median=0.12,
                latency_sigma=0.7,
                server_error_ratio=0.07,
                server_error_codes=(("503", 0.8), ("500", 0.2)),
                error_log="pool",
            ),
            db_query_median=0.25,
            db_query_sigma=0.7,
            pool_demand=1.2,
            database_health="down",
        ),
        replace(
            NORMAL,
            name="error-spike",
            description="A bad code path: ~10% API 500s at normal latency.",
            api=replace(
                NORMAL.api,
                server_error_ratio=0.10,
                server_error_codes=(("500", 0.9), ("502", 0.05), ("503", 0.05)),
            ),
        ),
    )
}


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; :class:`UnknownScenarioError` listing the valid ones."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UnknownScenarioError(name, list(SCENARIOS)) from None
