"""Liveness and readiness verdicts, judged with explicit times (no clock, no HTTP)."""

from __future__ import annotations

from prefect_agent.adapters.health.health_state import HealthState
from prefect_agent.domain.operations_settings import OperationsSettings

T0 = 1000.0  # monotonic seconds


def at(seconds: float) -> float:
    return T0 + seconds


def state(factor: float = 2.0, timeout: float = 1.0) -> HealthState:
    return HealthState(
        operations=OperationsSettings(liveness_factor=factor),
        request_timeout=timeout,
        started_at=T0,
    )


def test_a_starting_agent_gets_one_allowance_for_its_first_poll() -> None:
    s = state()  # first interval 0.25 s: allowance 2 * (0.25 + 1) = 2.5 s
    assert s.liveness(at(2.5)).ok
    probe = s.liveness(at(2.6))
    assert not probe.ok
    assert probe.body["status"] == "unhealthy"
    assert "since start" in probe.body["reason"]


def test_allowance_follows_the_interval_the_loop_reports() -> None:
    s = state()
    s.poll_completed(at(7), next_poll_in=10.0)  # the loop climbed to the 10 s step
    assert s.liveness(at(7)).body["poll_interval_seconds"] == 10.0
    assert s.liveness(at(7 + 22)).ok  # 2 * (10 + 1) = 22
    assert not s.liveness(at(7 + 22.1)).ok
    s.poll_completed(at(30), next_poll_in=0.25)  # runs found: back to 0.25 s
    assert s.liveness(at(30)).body["poll_interval_seconds"] == 0.25
    assert not s.liveness(at(33)).ok


def test_failed_polls_still_prove_the_loop_is_alive() -> None:
    s = state()
    s.poll_completed(at(1), next_poll_in=0.5, error_kind="unavailable")
    assert s.liveness(at(2)).ok
    assert not s.readiness(at(2)).ok


def test_readiness_needs_a_successful_api_call_and_no_failed_platform_check() -> None:
    s = state()
    probe = s.readiness(at(0))
    assert not probe.ok and probe.body["api"] == "no API call completed yet"
    s.poll_completed(at(1), next_poll_in=0.5)
    assert s.readiness(at(1)).ok
    assert s.readiness(at(1)).body["platform"] == "not checked yet"
    s.platform_checked(False, "the Docker engine is down")
    probe = s.readiness(at(2))
    assert not probe.ok
    assert probe.body["platform"] == "unavailable: the Docker engine is down"
    s.platform_checked(True, "")
    assert s.readiness(at(3)).ok


def test_readiness_reports_how_long_the_api_has_been_failing() -> None:
    s = state()
    s.poll_completed(at(0), next_poll_in=0.5)
    s.poll_completed(at(5), next_poll_in=0.5, error_kind="rate_limited")
    s.poll_completed(at(9), next_poll_in=0.5, error_kind="unavailable")
    probe = s.readiness(at(12))
    assert not probe.ok
    assert probe.body["api"] == "failing (unavailable) for 7.0s"
    assert probe.body["reason"] == "the last API call failed (unavailable)"
    s.poll_completed(at(13), next_poll_in=0.5)
    assert s.readiness(at(13)).body == {
        "status": "ready",
        "api": "ok",
        "platform": "not checked yet",
    }
