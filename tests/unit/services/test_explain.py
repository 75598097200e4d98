"""Explaining why this agent would or would not pick up a run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.errors import ApiError
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.operations_settings import OperationsSettings
from prefect_agent.domain.outcomes import RunStatus
from prefect_agent.domain.run_config import DockerRun, LocalRun, UniversalRun
from prefect_agent.services.explain import RunExplainer, RunFacts, Verdict, explain
from prefect_agent.testing import FakeClock, InMemoryRunSource

CLOCK = FakeClock()
NOW = CLOCK.now()


def facts(**kwargs: object) -> RunFacts:
    base: dict[str, object] = {"run_id": "r1", "state": "Scheduled", "labels": ("dev",)}
    base.update(kwargs)
    return RunFacts(**base)  # type: ignore[arg-type]


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


def test_facts_from_a_flow_run_and_from_a_status() -> None:
    run = FlowRun(id="a", version=1, state="Scheduled", labels=("x",), run_config=LocalRun())
    assert RunFacts.from_flow_run(run).run_config == LocalRun()
    status = RunStatus(
        run_id="b",
        state="Scheduled",
        version=2,
        labels=("x",),
        extra={"run_config": None, "start_time": NOW},
    )
    from_status = RunFacts.from_status(status)
    assert from_status.run_config is None
    assert from_status.start_time == NOW


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
