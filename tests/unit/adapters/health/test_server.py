"""The HTTP health server: real sockets on loopback, the agent's time from a FakeClock."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from prefect_agent.adapters.health.server import HttpHealthReporter
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import ApiUnavailable, ConfigError
from prefect_agent.domain.operations_settings import OperationsSettings
from prefect_agent.domain.outcomes import ReadyRuns
from prefect_agent.services.agent import AgentService
from prefect_agent.testing import FakeClock, FakePlatform, InlineExecutor, InMemoryRunSource
from tests.polling import eventually
from tests.unit.adapters.health.http_get import Reply, request

KEY = "sk-health-test-0123456789"


def config(**kwargs: object) -> AgentConfig:
    base: dict[str, object] = {
        "name": "health-agent",
        "agent_address": "http://127.0.0.1:0",
        "api_key": KEY,
        "request_timeout": 1.0,
        "operations": OperationsSettings(liveness_factor=2.0),
    }
    base.update(kwargs)
    return AgentConfig(**base)  # type: ignore[arg-type]


def reported_agent(
    clock: FakeClock, source: InMemoryRunSource, platform: FakePlatform
) -> tuple[HttpHealthReporter, AgentService]:
    """An agent reporting to a health server (not started), launches inline; poke wakes it."""
    cfg = config()
    agent: AgentService | None = None
    reporter = HttpHealthReporter.from_config(
        cfg, wake=lambda: agent.wake() if agent else None, now=clock.now, monotonic=clock.monotonic
    )
    agent = AgentService(
        config=cfg,
        source=source,
        platform=platform,
        clock=clock,
        health=reporter,
        executor=InlineExecutor(),
    )
    return reporter, agent


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pokes() -> list[int]:
    return []


@pytest.fixture
def reporter(clock: FakeClock, pokes: list[int]) -> Iterator[HttpHealthReporter]:
    with HttpHealthReporter.from_config(
        config(), wake=lambda: pokes.append(1), now=clock.now, monotonic=clock.monotonic
    ) as server:
        yield server


def get(reporter: HttpHealthReporter, path: str, method: str = "GET") -> Reply:
    return request(reporter.url + path, method)


def body(reply: Reply) -> dict[str, object]:
    assert reply.content_type == "application/json"
    return json.loads(reply.body)  # type: ignore[no-any-return]


def test_binds_exactly_the_configured_address(reporter: HttpHealthReporter) -> None:
    assert reporter._server is not None
    assert reporter._server.server_address[0] == "127.0.0.1"
    assert reporter.bound_port > 0


def test_a_port_in_use_is_a_config_error_naming_the_address(clock: FakeClock) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        reporter = HttpHealthReporter.from_config(
            config(agent_address=f"http://127.0.0.1:{port}"),
            wake=lambda: None,
            now=clock.now,
            monotonic=clock.monotonic,
        )
        with pytest.raises(ConfigError) as info:
            reporter.start()
    assert info.value.key == "agent_address"
    assert f"http://127.0.0.1:{port}" in str(info.value)


def test_from_config_without_an_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="agent_address"):
        HttpHealthReporter.from_config(AgentConfig(), wake=lambda: None)


def test_liveness_turns_503_after_the_allowance_and_back(
    reporter: HttpHealthReporter, clock: FakeClock
) -> None:
    reporter.poll_succeeded(clock.now(), 0, 0.5)  # interval 0.5 s: allowance 2 * 1.5 = 3 s
    assert get(reporter, "/api/health").status == 200
    clock.advance(3.5)
    reply = get(reporter, "/api/health")
    assert reply.status == 503
    assert "the poll loop is stuck" in body(reply)["reason"]  # type: ignore[operator]
    reporter.poll_succeeded(clock.now(), 0, 0.5)
    assert body(get(reporter, "/api/health"))["status"] == "ok"


def test_readiness_follows_api_and_platform(reporter: HttpHealthReporter, clock: FakeClock) -> None:
    assert get(reporter, "/api/ready").status == 503
    reporter.poll_succeeded(clock.now(), 0, 0.5)
    assert get(reporter, "/api/ready").status == 200
    reporter.poll_failed(clock.now(), ApiUnavailable(f"cannot reach http://x with {KEY}"), 1.0)
    reply = get(reporter, "/api/ready")
    assert reply.status == 503
    assert body(reply)["api"] == "failing (unavailable) for 0.0s"
    assert KEY not in reply.body
    reporter.poll_succeeded(clock.now(), 0, 0.5)
    reporter.platform_checked(False, f"engine refused token {KEY}")
    reply = get(reporter, "/api/ready")
    assert reply.status == 503
    assert KEY not in reply.body
    assert "engine refused token ********" in reply.body
    reporter.platform_checked(True)
    assert get(reporter, "/api/readiness").status == 200


def test_poke_wakes_the_agent(
    reporter: HttpHealthReporter, pokes: list[int], clock: FakeClock
) -> None:
    assert get(reporter, "/api/poke").status == 200
    clock.advance(1.0)
    assert get(reporter, "/api/poke", "POST").status == 200
    assert pokes == [1, 1]


def test_pokes_are_rate_limited_to_one_poll_per_interval(
    reporter: HttpHealthReporter, pokes: list[int], clock: FakeClock
) -> None:
    # Unauthenticated pokes used to cost one API poll each (1419/s measured).
    replies = [get(reporter, "/api/poke") for _ in range(50)]
    assert [r.status for r in replies].count(200) == 1 and pokes == [1]
    refused = replies[-1]
    assert refused.status == 429 and "poke_interval_seconds" in refused.body
    clock.jump(-3600)  # a wall clock stepped back changes nothing: the limit is monotonic
    assert get(reporter, "/api/poke").status == 429
    clock.advance(1.0)
    assert get(reporter, "/api/poke").status == 200 and pokes == [1, 1]


def test_a_silent_connection_is_closed_and_does_not_block_probes(
    reporter: HttpHealthReporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect_agent.adapters.health import server

    monkeypatch.setattr(server._Handler, "timeout", 0.3)
    silent = [socket.create_connection(("127.0.0.1", reporter.bound_port)) for _ in range(5)]
    try:
        assert get(reporter, "/api/health").status in (200, 503)
        for conn in silent:
            conn.settimeout(5)
            assert conn.recv(1) == b""  # closed by the server after its socket timeout
    finally:
        for conn in silent:
            conn.close()


def test_liveness_survives_a_wall_clock_stepped_back(
    reporter: HttpHealthReporter, clock: FakeClock
) -> None:
    reporter.poll_succeeded(clock.now(), 0, 0.5)
    clock.jump(-3600)  # with wall time, "silent for -1 h" hid a wedged loop for an hour
    clock.advance(3.5)
    assert get(reporter, "/api/health").status == 503
    reporter.poll_succeeded(clock.now(), 0, 0.5)
    clock.jump(+3600)  # and a step forward must not kill a healthy agent
    assert get(reporter, "/api/health").status == 200


def test_unknown_paths_and_methods(reporter: HttpHealthReporter, pokes: list[int]) -> None:
    assert get(reporter, "/nope").status == 404
    assert get(reporter, "/api/health", "POST").status == 405
    assert get(reporter, "/api/poke", "PUT").status == 405
    assert get(reporter, "/api/health", "HEAD").status == 200
    assert get(reporter, "/api/poke", "HEAD").status == 405
    assert pokes == []


def test_reporting_never_raises_into_the_agent(reporter: HttpHealthReporter) -> None:
    reporter.launched("run", float("nan"))  # prometheus refuses nothing, but the guard holds
    reporter.poll_succeeded(None, "not a number", 1.0)  # type: ignore[arg-type]
    assert get(reporter, "/api/health").status == 200  # and it still answers


def metric_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


class _WedgeableSource(InMemoryRunSource):
    """``ready_runs`` blocks while ``wedged`` is set, as a hung connection would."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.wedged = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()

    def ready_runs(
        self, labels: Sequence[str], before: datetime, known: Collection[str] = frozenset()
    ) -> ReadyRuns:
        if self.wedged.is_set():
            self.entered.set()
            self.release.wait(10)
        return super().ready_runs(labels, before)


def test_health_follows_a_wedged_and_recovered_poll_loop(clock: FakeClock) -> None:
    source = _WedgeableSource(clock=clock)
    reporter, agent = reported_agent(clock, source, FakePlatform())
    thread = threading.Thread(target=agent.run, daemon=True)
    with reporter:
        thread.start()
        eventually(lambda: reporter.state.polls >= 1, "a poll", 5)
        clock.wait_for_waiters(2)  # the poll loop and the scheduler both wait on the clock
        assert get(reporter, "/api/health").status == 200
        source.wedged.set()
        get(reporter, "/api/poke")  # the loop polls at once and hangs in ready_runs
        assert source.entered.wait(5)
        clock.advance(3.1)  # allowance: 2 * (0.5 s interval + 1 s timeout) = 3 s
        reply = get(reporter, "/api/health")
        assert reply.status == 503, reply.body
        assert body(reply)["status"] == "unhealthy"
        source.wedged.clear()
        source.release.set()
        eventually(lambda: get(reporter, "/api/health").status == 200, "a healthy answer", 5)
        agent.stop()
        thread.join(5)
    assert not thread.is_alive()


def test_metrics_count_what_the_agent_did(clock: FakeClock) -> None:
    source = InMemoryRunSource(clock=clock)
    platform = FakePlatform()
    reporter, agent = reported_agent(clock, source, platform)
    late = source.add_run(start_time=clock.now() - timedelta(seconds=40))
    source.add_run()
    broken = source.add_run()
    platform.fail_launches_of(broken, "image missing")
    source.faults.fail_next("ready_runs", 1, ApiUnavailable("down"))
    with reporter:
        agent.register()
        agent.step()  # fails: API down
        agent.step()  # finds 3, launches 2, one launch fails
        platform.report_exit(late, 1)
        agent.monitor.check()
        reply = get(reporter, "/metrics")
    assert reply.status == 200
    assert reply.content_type.startswith("text/plain")
    values = metric_values(reply.body)
    assert values[("prefect_agent_polls_total", (("outcome", "success"),))] == 1
    assert values[("prefect_agent_polls_total", (("outcome", "failure"),))] == 1
    assert values[("prefect_agent_api_errors_total", (("kind", "unavailable"),))] == 1
    assert values[("prefect_agent_api_errors_total", (("kind", "rate_limited"),))] == 0
    assert values[("prefect_agent_runs_found_total", ())] == 3
    assert values[("prefect_agent_claims_total", (("result", "won"),))] == 3
    assert values[("prefect_agent_claims_total", (("result", "lost"),))] == 0
    assert values[("prefect_agent_launches_total", ())] == 2
    assert values[("prefect_agent_launch_failures_total", ())] == 1
    assert values[("prefect_agent_infrastructure_failures_total", ())] == 1
    assert values[("prefect_agent_in_flight_runs", ())] == 0
    assert values[("prefect_agent_launch_lateness_seconds_count", ())] == 2
    # One launch was on time, the other 40 s late.
    assert values[("prefect_agent_launch_lateness_seconds_bucket", (("le", "30.0"),))] == 1
    assert values[("prefect_agent_launch_lateness_seconds_bucket", (("le", "60.0"),))] == 2
    assert values[("prefect_agent_info", (("name", "health-agent"), ("type", "LocalAgent")))] == 1
    assert KEY not in reply.body


def test_platform_unavailable_reaches_readiness_through_the_agent(clock: FakeClock) -> None:
    source = InMemoryRunSource(clock=clock)
    platform = FakePlatform()
    platform.available = False
    reporter, agent = reported_agent(clock, source, platform)
    source.add_run()
    with reporter:
        agent.register()
        agent.step()
        reply = get(reporter, "/api/ready")
        assert reply.status == 503
        assert body(reply)["platform"] == "unavailable: the fake platform is switched off"
        platform.available = True
        clock.advance(1)  # the run waits on the backoff ladder while the platform is down
        agent.step()
        assert get(reporter, "/api/ready").status == 200
    assert len(platform.launches) == 1
