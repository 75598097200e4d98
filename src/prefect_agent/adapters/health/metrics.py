"""The agent's Prometheus metrics, in a registry of their own (needs the ``metrics`` extra)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from prefect_agent.adapters.health.error_kind import ERROR_KINDS

LATENESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""From "on time" to "an hour late": the interesting range after an outage."""

CONTENT_TYPE = CONTENT_TYPE_LATEST


class AgentMetrics:
    """Counters, gauges and the lateness histogram of one agent.

    A private registry (not the process-wide default) keeps two agents in one process, or
    in one test session, from colliding, and keeps unrelated metrics out of the page.
    """

    def __init__(self, *, agent_name: str, agent_type: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.info = Gauge(
            "prefect_agent_info",
            "Always 1; labels describe the agent.",
            ["name", "type"],
            registry=r,
        )
        self.info.labels(name=agent_name, type=agent_type).set(1)
        self.polls = Counter(
            "prefect_agent_polls",
            "Polls for ready flow runs, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.runs_found = Counter(
            "prefect_agent_runs_found", "Flow runs returned by polls.", registry=r
        )
        self.claims = Counter(
            "prefect_agent_claims",
            "Claims of flow runs (Submitted), won or lost.",
            ["result"],
            registry=r,
        )
        self.launches = Counter(
            "prefect_agent_launches", "Flow runs launched on the platform.", registry=r
        )
        self.launch_failures = Counter(
            "prefect_agent_launch_failures", "Flow runs that could not be launched.", registry=r
        )
        self.infrastructure_failures = Counter(
            "prefect_agent_infrastructure_failures",
            "Launched flow runs whose infrastructure failed before the run finished.",
            registry=r,
        )
        self.in_flight = Gauge(
            "prefect_agent_in_flight_runs",
            "Flow runs accepted by this agent and not yet launched.",
            registry=r,
        )
        self.lateness = Histogram(
            "prefect_agent_launch_lateness_seconds",
            "Seconds between a run's scheduled start and its launch.",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.api_errors = Counter(
            "prefect_agent_api_errors",
            "Failed polls of the Prefect API, by kind.",
            ["kind"],
            registry=r,
        )
        self.last_poll = Gauge(
            "prefect_agent_last_poll_timestamp_seconds",
            "Unix time of the last completed poll.",
            registry=r,
        )
        # Declare every label value up front so a scrape shows zeros instead of nothing.
        for outcome in ("success", "failure"):
            self.polls.labels(outcome=outcome)
        for result in ("won", "lost"):
            self.claims.labels(result=result)
        for kind in ERROR_KINDS:
            self.api_errors.labels(kind=kind)

    def render(self) -> bytes:
        return generate_latest(self.registry)
