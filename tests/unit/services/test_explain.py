"""Explaining why this agent would or would not pick up a run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.errors import ApiError
from prefect_agent.domain.operations_settings import OperationsSettings
from prefect_agent.domain.outcomes import RunDetails, RunStatus
from prefect_agent.domain.run_config import DockerRun, LocalRun, UniversalRun
from prefect_agent.domain.states import FAILED
from prefect_agent.services.agent import AgentService
from prefect_agent.services.explain import RunExplainer, Verdict, explain
from prefect_agent.testing import FakeClock, FakePlatform, InlineExecutor, InMemoryRunSource

CLOCK = FakeClock()
NOW = CLOCK.now()


def facts(
    *, state: str = "Scheduled", labels: tuple[str, ...] = ("dev",), **details: object
) -> RunStatus:
    """A status as ``run_status`` reports it; without details, one that reports none."""
    return RunStatus(
        run_id="r1",
        state=state,
        version=1,
        labels=labels,
        details=RunDetails(**details) if details else None,  # type: ignore[arg-type]
    )


def local(**kwargs: object) -> AgentConfig:
    return AgentConfig(labels=("dev", "gpu"), **kwargs)  # type: ignore[arg-type]


def test_a_matching_scheduled_run_is_launched() -> None:
    result = explain(facts(run_config=LocalRun(), start_time=NOW), local(), NOW)
    assert result.verdict is Verdict.LAUNCH
    assert result.picked_up
    assert [c.passed for c in result.checks] == [True, True, True, True]


def test_missing_labels_are_named() -> None:
    result = explain(facts(labels=("dev", "prod")), local(), NOW)
    assert result.verdict is Verdict.IGNORE
    labels = result.checks[1]
    assert labels.passed is False
    assert "the run needs ['prod'] which the agent lacks" in labels.detail
    assert "Flow run r1: this agent would not pick it up." in result.render()
    assert "[NO ] labels: the run needs ['prod']" in result.render()


def test_unlabeled_runs_go_only_to_unlabeled_agents() -> None:
    result = explain(facts(labels=()), local(), NOW)
    assert result.verdict is Verdict.IGNORE
    assert "unlabeled runs go only to agents without labels" in result.checks[1].detail


def test_an_incompatible_run_config_is_picked_up_and_failed() -> None:
    result = explain(facts(run_config=DockerRun(image="x")), local(), NOW)
    assert result.verdict is Verdict.FAIL
    assert result.checks[2].detail == (
        "DockerRun: a local agent runs LocalRun or UniversalRun, so the run would be marked "
        "Failed with the reason"
    )


def test_universal_and_missing_run_configs_run_anywhere() -> None:
    docker = AgentConfig(platform=DockerSettings(), labels=("dev",))
    assert explain(facts(run_config=UniversalRun()), docker, NOW).verdict is Verdict.LAUNCH
    assert explain(facts(run_config=None), docker, NOW).verdict is Verdict.LAUNCH


def test_an_unknown_run_config_is_said_to_be_unknown() -> None:
    result = explain(facts(), local(), NOW)
    assert result.checks[2].passed is None
    assert "not reported" in result.checks[2].detail
    assert result.verdict is Verdict.LAUNCH


@pytest.mark.parametrize(
    ("state", "verdict", "detail"),
    [
        ("Submitted", Verdict.IGNORE, "Submitted: another agent or the run itself already has it"),
        ("Success", Verdict.IGNORE, "Success: the run is finished"),
        ("Running", Verdict.RETRY_ONLY, "Running: taken again only to retry task runs"),
        ("Retrying", Verdict.LAUNCH, "Retrying: waiting for an agent"),
    ],
)
def test_state(state: str, verdict: Verdict, detail: str) -> None:
    result = explain(facts(state=state), local(), NOW)
    assert result.verdict is verdict
    assert result.checks[0].detail.startswith(detail)


def test_future_runs_are_launched_at_their_start_time() -> None:
    later = NOW + timedelta(minutes=5)
    result = explain(facts(start_time=later), local(), NOW)
    assert result.verdict is Verdict.LAUNCH_LATER
    assert "(300s from now); fetched 10s ahead" in result.checks[3].detail
    soon = NOW + timedelta(seconds=5)
    assert explain(facts(start_time=soon), local(), NOW).verdict is Verdict.LAUNCH


def test_backlog_policy_is_explained() -> None:
    cfg = local(operations=OperationsSettings(backlog_policy="skip", backlog_threshold_seconds=60))
    result = explain(facts(start_time=NOW - timedelta(seconds=90)), cfg, NOW)
    assert result.verdict is Verdict.SKIP
    assert result.checks[3].detail.endswith(
        "(90s ago); later than the backlog threshold of 60s (policy 'skip')"
    )


def test_an_unreadable_run_config_is_picked_up_and_failed() -> None:
    result = explain(facts(run_config_error="no such type NopeRun"), local(), NOW)
    assert result.verdict is Verdict.FAIL
    assert result.checks[2].detail == "unreadable ('no such type NopeRun'); the run would fail"


def test_explain_and_the_deployer_agree_on_docker_storage_for_a_local_agent() -> None:
    """One rule: a run with Docker storage is refused by a local agent's deployer, and
    ``explain`` says so (it once said the agent would launch it)."""
    clock = FakeClock()
    source = InMemoryRunSource(clock=clock)
    platform = FakePlatform()
    config = local()
    agent = AgentService(
        config=config, source=source, platform=platform, clock=clock, executor=InlineExecutor()
    )
    agent.register()
    run_id = source.add_run(labels=["dev"], run_config=LocalRun(), storage_type="Docker")
    result = RunExplainer(source=source, config=config, clock=clock).explain(run_id)
    assert result.verdict is Verdict.FAIL
    assert "uses Docker storage, which a local agent cannot run" in result.checks[2].detail
    agent.step()
    assert platform.launched_ids() == []
    assert source.state_of(run_id) == FAILED
    assert any("uses Docker storage" in log.message for log in source.logs(run_id))
    docker = AgentConfig(platform=DockerSettings(), labels=("dev",))
    other = source.add_run(labels=["dev"], storage_type="Docker")
    assert RunExplainer(source=source, config=docker, clock=clock).explain(other).verdict is (
        Verdict.LAUNCH
    )


def test_the_explainer_reads_the_run_through_the_source() -> None:
    clock = FakeClock()
    source = InMemoryRunSource(clock=clock)
    run_id = source.add_run(labels=["dev", "prod"])
    explainer = RunExplainer(source=source, config=local(), clock=clock)
    result = explainer.explain(run_id)
    assert result.verdict is Verdict.IGNORE
    assert result.run_id == run_id
    with pytest.raises(ApiError):
        explainer.explain("no-such-run")
