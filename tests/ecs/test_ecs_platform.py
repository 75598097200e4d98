"""ECSPlatform beyond the contract, against moto in server mode: stopping, restarts, batches
of describe_tasks, refusals, and the credential rules."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from prefect_agent.adapters.ecs.aws_session import client_config, session_for
from prefect_agent.adapters.ecs.platform import ECSPlatform
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.ecs_run_config import ECSRun
from prefect_agent.domain.ecs_settings import ECSSettings
from prefect_agent.domain.errors import ConfigError, LaunchError, PlatformUnavailable
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.outcomes import InfrastructureOutcome
from prefect_agent.domain.secret import Secret
from tests.ecs.moto_ecs import MotoEcs, running_moto
from tests.polling import eventually


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoEcs]:
    with running_moto() as moto:
        yield moto


@pytest.fixture
def settings(moto: MotoEcs, tmp_path: Path) -> ECSSettings:
    moto.reset()
    return ECSSettings(
        task_definition_path=str(moto.task_definition_file(tmp_path)),
        task_sync_interval_seconds=0.05,
    )


def platform_of(moto: MotoEcs, settings: ECSSettings) -> ECSPlatform:
    return ECSPlatform(AgentConfig(name="ecs-test", platform=settings), moto.session,
                       endpoint_url=moto.url)  # fmt: skip


def launch(platform: ECSPlatform, run_config: ECSRun | None = None) -> FlowRun:
    run = FlowRun(id=str(uuid.uuid4()), version=1, state="Submitted", flow_name="f",
                  flow_id=str(uuid.uuid4()), run_config=run_config)  # fmt: skip
    config = AgentConfig(name="ecs-test", platform=ECSSettings())
    platform.launch(run, build_launch_spec(run, config, tenant_id=None))
    return run


def outcome_of(platform: ECSPlatform, run_id: str) -> InfrastructureOutcome:
    found: list[InfrastructureOutcome] = []

    def reported() -> bool:
        found.extend(o for o in platform.outcomes() if o.run_id == run_id)
        return bool(found)

    eventually(reported, f"an outcome for run {run_id}", deadline=30)
    return found[0]


def test_stop_stops_the_task_with_a_reason_and_reports_it_as_a_failure(
    moto: MotoEcs, settings: ECSSettings
) -> None:
    platform = platform_of(moto, settings)
    try:
        run = launch(platform)
        what = platform.stop(run.id)
        task = moto.task_of(run.id)
        assert what.startswith(f"ECS task {task['taskArn'].rsplit('/', 1)[-1]} in cluster default")
        assert task["lastStatus"] == "STOPPED"
        assert task["stoppedReason"] == "Stopped by prefect-agent ecs-test"
        # moto gives the container exit code 0: a stopped run is a failure all the same.
        outcome = outcome_of(platform, run.id)
        assert not outcome.succeeded
        assert "Stopped by prefect-agent ecs-test" in outcome.reason
        assert "prefect:reported" not in {t["key"] for t in moto.task_of(run.id)["tags"]}
        platform.acknowledge(run.id)
        assert "prefect:reported" in {t["key"] for t in moto.task_of(run.id)["tags"]}
    finally:
        platform.close()


def test_a_task_that_stopped_while_the_agent_was_down_is_reported_once(
    moto: MotoEcs, settings: ECSSettings
) -> None:
    first = platform_of(moto, settings)
    run = launch(first)
    first.close()
    moto.finish(moto.task_of(run.id)["taskArn"], 2, container_reason="boom")
    second = platform_of(moto, settings)
    try:
        assert second.adopt() == [run.id]
        outcome = outcome_of(second, run.id)
        assert not outcome.succeeded and outcome.exit_code == 2 and "boom" in outcome.reason
        second.acknowledge(run.id)
    finally:
        second.close()
    third = platform_of(moto, settings)
    try:
        assert third.adopt() == []  # tagged prefect:reported once acknowledged
    finally:
        third.close()


def test_tasks_are_described_in_batches_of_100(moto: MotoEcs, settings: ECSSettings) -> None:
    platform = platform_of(moto, attrs_evolve(settings, task_sync_interval_seconds=3600))
    sizes: list[int] = []
    platform._ecs.meta.events.register(
        "provide-client-params.ecs.DescribeTasks",
        lambda params, **_: sizes.append(len(params["tasks"])),
    )
    try:
        for _ in range(101):
            launch(platform)
        sizes.clear()
        platform.sync()
        assert sorted(sizes) == [1, 100]
    finally:
        platform.close()


def attrs_evolve(settings: ECSSettings, **changes: Any) -> ECSSettings:
    import attrs

    return attrs.evolve(settings, **changes)


def test_a_refused_run_task_fails_only_that_run(moto: MotoEcs, settings: ECSSettings) -> None:
    platform = platform_of(moto, settings)
    try:
        with pytest.raises(LaunchError, match="ClusterNotFoundException"):
            launch(platform, ECSRun(run_task_kwargs={"cluster": "no-such-cluster"}))
        launch(platform)  # the next run launches
    finally:
        platform.close()


def test_check_needs_the_cluster(moto: MotoEcs, settings: ECSSettings) -> None:
    platform = platform_of(moto, attrs_evolve(settings, cluster="missing"))
    with pytest.raises(PlatformUnavailable, match="'missing' does not exist"):
        platform.check()
    platform_of(moto, settings).check()


def test_an_unreadable_task_definition_path_is_a_config_error(
    moto: MotoEcs, settings: ECSSettings, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"agent\.ecs\.task_definition_path"):
        platform_of(moto, attrs_evolve(settings, task_definition_path=str(tmp_path / "nope")))


def test_aws_credentials_secret_wins_over_the_keys_as_in_prefect_1() -> None:
    secret = json.dumps({"ACCESS_KEY": "from-secret", "SECRET_ACCESS_KEY": "s"})
    settings = ECSSettings(
        aws_access_key_id="from-key",
        aws_secret_access_key="k",
        aws_credentials=secret,
        region_name="eu-west-1",
    )
    session = session_for(settings)
    assert session.get_credentials().access_key == "from-secret"
    assert session.region_name == "eu-west-1"
    plain = session_for(ECSSettings(aws_access_key_id="from-key", aws_secret_access_key="k"))
    assert plain.get_credentials().access_key == "from-key"
    assert "from-secret" not in repr(settings) and str(settings.aws_credentials) != "s"


def test_bad_aws_credentials_name_the_problem_not_the_value() -> None:
    with pytest.raises(ValueError, match="lacks SECRET_ACCESS_KEY") as raised:
        ECSSettings(aws_credentials=Secret(json.dumps({"ACCESS_KEY": "AKIAXYZ"})))
    assert "AKIAXYZ" not in str(raised.value)


def test_retries_default_to_standard_mode() -> None:
    assert client_config(None, environ={}).retries == {"mode": "standard"}
    assert client_config(None, environ={"AWS_RETRY_MODE": "legacy"}).retries is None
    given = client_config({"retries": {"max_attempts": 2}}, environ={})
    assert given.retries == {"max_attempts": 2}
