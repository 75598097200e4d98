"""KubernetesPlatform against the kmock emulator: failures, events, RBAC gaps and cleanup."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from prefect_agent.adapters.system.clock import SystemClock
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import ConfigError, LaunchError, PlatformUnavailable
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.outcomes import InfrastructureOutcome, RunLog
from prefect_agent.domain.run_config import KubernetesRun
from prefect_agent.services.monitoring import InfrastructureMonitor
from prefect_agent.services.null_health import NullHealthReporter
from prefect_agent.services.run_failure import RunFailer
from prefect_agent.testing import InMemoryRunSource
from tests.kubernetes.emulator import NAMESPACE, Emulator, JobController
from tests.polling import eventually

pytestmark = pytest.mark.kubernetes

from prefect_agent.adapters.kubernetes.platform import KubernetesPlatform  # noqa: E402


class Clock:
    """A wall clock the test moves (for the failed-job TTL)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def controller(emulator: Emulator) -> JobController:
    return JobController(emulator.api_client())


@pytest.fixture
def wall_clock() -> Clock:
    return Clock()


@pytest.fixture
def make_platform(
    emulator: Emulator, wall_clock: Clock
) -> Iterator[Callable[..., KubernetesPlatform]]:
    made: list[KubernetesPlatform] = []

    def make(name: str = "agent-a", **settings: Any) -> KubernetesPlatform:
        settings.setdefault("job_sync_interval_seconds", 0.05)
        config = AgentConfig(name=name, platform=KubernetesSettings(**settings))
        platform = KubernetesPlatform(config, emulator.api_client(), wall_clock=wall_clock)
        made.append(platform)
        return platform

    yield make
    for platform in made:
        platform.close()
    _SEEN.clear()


def new_run(run_config: KubernetesRun | None = None) -> FlowRun:
    return FlowRun(
        id=str(uuid.uuid4()),
        version=2,
        state="Submitted",
        flow_id=str(uuid.uuid4()),
        run_config=run_config,
        core_version="1.4.1",
    )


def launch(platform: KubernetesPlatform, run: FlowRun) -> None:
    config = AgentConfig(name="agent-a", platform=KubernetesSettings())
    platform.launch(run, build_launch_spec(run, config, tenant_id=None))


def launched(
    platform: KubernetesPlatform, controller: JobController, run_config: KubernetesRun | None = None
) -> tuple[FlowRun, dict[str, Any]]:
    """Launch a new run and return it with its Job as the API server stored it."""
    run = new_run(run_config)
    launch(platform, run)
    return run, controller.job_of(run.id)


_SEEN: dict[int, list[InfrastructureOutcome]] = {}
"""Outcomes read from each platform, kept for the runs a test asks about later."""


def outcome_of(
    platform: KubernetesPlatform, run_id: str, *, acknowledge: bool = True
) -> InfrastructureOutcome:
    """The run's outcome, acknowledged as the agent's monitor does once the API has it."""
    seen = _SEEN.setdefault(id(platform), [])

    def found() -> InfrastructureOutcome | None:
        seen.extend(platform.outcomes())
        return next((o for o in seen if o.run_id == run_id), None)

    outcome: InfrastructureOutcome = eventually(found, f"the outcome of run {run_id}")
    if acknowledge:
        platform.acknowledge(run_id)
    return outcome


_LOGGED: dict[int, list[RunLog]] = {}
"""Infrastructure log records read from each platform."""


def infra_lines(platform: KubernetesPlatform, run_id: str) -> list[str]:
    """The pod event lines the platform handed out for the run's logs so far."""
    logged = _LOGGED.setdefault(id(platform), [])
    logged.extend(platform.infrastructure_logs())
    assert all(log.name == "k8s-infra" for log in logged)
    return [log.message for log in logged if log.run_id == run_id]


def job_names(controller: JobController) -> set[str]:
    return {job["metadata"]["name"] for job in controller.jobs()}


# -- failures that end a run ---------------------------------------------------------------


def test_an_image_pull_error_fails_the_run_with_the_reason_and_events(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    platform = make_platform()
    run, job = launched(platform, controller, KubernetesRun(image="nowhere/missing:1"))
    # The kubelet writes the event before the status the agent acts on.
    controller.event(
        controller.pod_name(job), "Failed", 'Failed to pull image "nowhere/missing:1": no such host'
    )
    controller.pull_error(job, "ImagePullBackOff")
    outcome = outcome_of(platform, run.id)
    assert not outcome.succeeded
    assert "could not pull nowhere/missing:1 (ImagePullBackOff)" in outcome.reason
    assert any(
        'Failed to pull image "nowhere/missing:1"' in line for line in infra_lines(platform, run.id)
    )
    # The pod would retry the pull forever: the agent deletes the job.
    eventually(lambda: not controller.jobs_of(run.id), "the job's deletion")


def test_an_oom_killed_pod_fails_the_run_with_its_termination_state(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    platform = make_platform()
    run, job = launched(platform, controller, KubernetesRun(memory_limit="64Mi"))
    pod = controller.pod_name(job)
    controller.event(pod, "Killing", "Memory cgroup out of memory")
    controller.finish(job, 137, reason="OOMKilled")
    outcome = outcome_of(platform, run.id)
    assert not outcome.succeeded
    assert outcome.exit_code == 137
    assert "OOMKilled" in outcome.reason
    assert f"Container 'flow' in pod {pod} terminated: exit code 137, reason OOMKilled" in (
        outcome.details
    )
    assert sum("Memory cgroup out of memory" in line for line in infra_lines(platform, run.id)) == 1


def test_a_pod_pending_past_the_deadline_fails_the_run(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    platform = make_platform(pending_deadline_seconds=0.3)
    run, job = launched(platform, controller)
    controller.event(
        controller.pod_name(job), "FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu."
    )
    controller.make_pod(job, {"phase": "Pending"})
    outcome = outcome_of(platform, run.id)
    assert not outcome.succeeded
    assert "still Pending after" in outcome.reason
    assert any("3 Insufficient cpu" in line for line in infra_lines(platform, run.id))


def test_each_event_reaches_the_run_logs_once(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    platform = make_platform()
    run, job = launched(platform, controller)
    pod = controller.make_pod(job, {"phase": "Pending"})
    controller.event(pod, "Scheduled", "Successfully assigned", type_="Normal")
    # Several listings see the same event while the pod stays Pending.
    platform.sync()
    platform.sync()
    controller.finish(job, 1)
    outcome = outcome_of(platform, run.id)
    assert not outcome.succeeded
    assert sum("Successfully assigned" in line for line in infra_lines(platform, run.id)) == 1


def test_without_permission_to_list_events_monitoring_degrades_once(
    make_platform: Callable[..., KubernetesPlatform],
    controller: JobController,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.forbid("events")
    platform = make_platform()
    caplog.set_level(logging.WARNING)
    runs = [new_run(), new_run()]
    for run in runs:
        launch(platform, run)
        controller.make_pod(controller.job_of(run.id), {"phase": "Pending"})
    for _ in range(5):
        platform.sync()
    assert emulator.requests_to("events") == 1
    for run in runs:
        controller.finish(controller.job_of(run.id), 2)
        assert outcome_of(platform, run.id).exit_code == 2
    warnings = [r for r in caplog.records if "Not allowed to list events" in r.getMessage()]
    assert len(warnings) == 1
    assert emulator.requests_to("events") == 1


def test_without_permission_to_list_jobs_check_fails_and_sync_does_not_spin(
    make_platform: Callable[..., KubernetesPlatform],
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.forbid("jobs", "batch/v1")
    # A long interval keeps the background thread out of the count: the test drives sync().
    platform = make_platform(job_sync_interval_seconds=3600)
    with pytest.raises(PlatformUnavailable, match="HTTP 403"):
        platform.check()
    caplog.set_level(logging.WARNING)
    start = emulator.requests_to("jobs", "batch/v1")
    for _ in range(5):
        platform.sync()
    # One listing per pass (no retry loop inside a pass), and the error is logged once.
    assert emulator.requests_to("jobs", "batch/v1") - start == 5
    assert len([r for r in caplog.records if "Could not list" in r.getMessage()]) == 1


# -- launching -----------------------------------------------------------------------------


def test_a_retried_launch_of_the_same_run_creates_one_job(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    first, second = make_platform(), make_platform()
    run = new_run()
    launch(first, run)
    launch(second, run)
    assert len(controller.jobs_of(run.id)) == 1


def test_a_later_version_of_the_run_gets_a_new_job(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    platform = make_platform()
    run = new_run()
    launch(platform, run)
    launch(platform, attrs.evolve(run, version=7))
    assert len(controller.jobs_of(run.id)) == 2


def test_the_run_config_template_in_another_namespace_fails_the_launch(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    template = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"namespace": "prod"}}
    with pytest.raises(LaunchError, match="names namespace 'prod'"):
        launch(make_platform(), new_run(KubernetesRun(job_template=template)))
    assert controller.jobs() == []


def test_an_unreadable_run_config_template_fails_the_launch(
    make_platform: Callable[..., KubernetesPlatform],
) -> None:
    with pytest.raises(LaunchError, match=r"missing\.yaml"):
        launch(make_platform(), new_run(KubernetesRun(job_template_path="/nowhere/missing.yaml")))


def test_an_unreadable_agent_template_is_a_configuration_error(
    make_platform: Callable[..., KubernetesPlatform],
) -> None:
    with pytest.raises(ConfigError, match=r"kubernetes\.job_template_path"):
        make_platform(job_template_path="/nowhere/agent.yaml")


def test_the_job_is_created_in_the_agents_namespace(
    make_platform: Callable[..., KubernetesPlatform], emulator: Emulator
) -> None:
    platform = make_platform(namespace="flows")
    run = new_run()
    launch(platform, run)
    jobs = JobController(emulator.api_client(), namespace="flows").jobs_of(run.id)
    assert [job["metadata"]["namespace"] for job in jobs] == ["flows"]


# -- cleanup -------------------------------------------------------------------------------


def foreign_job(controller: JobController, name: str, labels: dict[str, str]) -> dict[str, Any]:
    """A finished job this agent did not create (another agent's, or a user's)."""
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": labels,
            "annotations": {"prefect-agent.io/flow-run-id": "someone-elses-run"},
        },
        "spec": {
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "flow", "image": "x"}]},
            }
        },
    }
    controller.batch.create_namespaced_job(NAMESPACE, job, _preload_content=False)
    return job


def test_cleanup_deletes_only_this_agents_finished_jobs(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    others = [
        foreign_job(controller, "other-agent", {"prefect-agent.io/owner": "agent-b"}),
        foreign_job(controller, "prefect-1", {"prefect.io/identifier": "abcd1234"}),
        foreign_job(controller, "unlabelled", {}),
    ]
    for job in others:
        controller.finish(job, 0)
    platform = make_platform()
    run = new_run()
    launch(platform, run)
    controller.finish(controller.job_of(run.id), 0)
    assert outcome_of(platform, run.id).succeeded
    eventually(lambda: not controller.jobs_of(run.id), "the deletion of this agent's job")
    for _ in range(3):
        platform.sync()
    # A finished job of a Prefect 1.4.1 agent is cleaned up as that agent would have.
    assert job_names(controller) == {"other-agent", "unlabelled"}
    platform.stop("someone-elses-run")
    assert job_names(controller) == {"other-agent", "unlabelled"}


def test_jobs_left_by_prefect_1_agents_are_cleaned_up_once_finished(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    legacy = {"prefect.io/identifier": "abcd1234", "prefect.io/flow_run_id": str(uuid.uuid4())}
    done = foreign_job(controller, "prefect-job-done", legacy)
    controller.finish(done, 1)
    running = foreign_job(controller, "prefect-job-running", legacy)
    controller.run(running)
    kept = make_platform(delete_finished_jobs=False)
    kept.sync()
    assert job_names(controller) == {"prefect-job-done", "prefect-job-running"}
    make_platform().sync()
    assert job_names(controller) == {"prefect-job-running"}


def test_failed_jobs_are_kept_for_the_configured_time(
    make_platform: Callable[..., KubernetesPlatform],
    controller: JobController,
    wall_clock: Clock,
) -> None:
    platform = make_platform(failed_job_ttl_seconds=600)
    run = new_run()
    launch(platform, run)
    controller.finish(controller.job_of(run.id), 1)
    assert not outcome_of(platform, run.id).succeeded
    platform.sync()
    assert controller.jobs_of(run.id), "a failed job is kept for inspection"
    wall_clock.now += timedelta(seconds=601)
    eventually(lambda: not controller.jobs_of(run.id), "the failed job's deletion after its TTL")


def test_disabled_job_deletion_keeps_every_job(
    make_platform: Callable[..., KubernetesPlatform],
    controller: JobController,
    wall_clock: Clock,
) -> None:
    platform = make_platform(delete_finished_jobs=False, failed_job_ttl_seconds=0)
    ok, bad = new_run(), new_run(KubernetesRun(image="nowhere/x:1"))
    launch(platform, ok)
    launch(platform, bad)
    controller.finish(controller.job_of(ok.id), 0)
    controller.pull_error(controller.job_of(bad.id))
    outcome_of(platform, ok.id)
    outcome_of(platform, bad.id)
    wall_clock.now += timedelta(days=1)
    platform.sync()
    assert len(controller.jobs_of(ok.id)) == len(controller.jobs_of(bad.id)) == 1


def test_jobs_with_a_ttl_are_left_to_kubernetes(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController, tmp_path: Any
) -> None:
    template = tmp_path / "job.yaml"
    template.write_text("apiVersion: batch/v1\nkind: Job\nspec: {ttlSecondsAfterFinished: 60}\n")
    platform = make_platform(job_template_path=str(template))
    run = new_run()
    launch(platform, run)
    controller.finish(controller.job_of(run.id), 0)
    assert outcome_of(platform, run.id).succeeded
    platform.sync()
    assert controller.jobs_of(run.id)


# -- restarts ------------------------------------------------------------------------------


def test_a_restarted_agent_does_not_report_a_job_twice(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    first = make_platform(failed_job_ttl_seconds=3600)
    run = new_run()
    launch(first, run)
    controller.finish(controller.job_of(run.id), 4)
    assert outcome_of(first, run.id).exit_code == 4
    first.close()
    second = make_platform(failed_job_ttl_seconds=3600)
    assert second.adopt() == []
    for _ in range(3):
        second.sync()
    assert second.outcomes() == []
    assert controller.jobs_of(run.id), "the failed job is still kept"


def test_a_failure_not_acknowledged_is_reported_again_by_a_restarted_agent(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    first = make_platform(failed_job_ttl_seconds=0)
    run = new_run()
    launch(first, run)
    controller.finish(controller.job_of(run.id), 4)
    assert outcome_of(first, run.id, acknowledge=False).exit_code == 4
    first.sync()
    assert controller.jobs_of(run.id), "kept: the API has not taken the failure yet"
    first.close()
    second = make_platform(failed_job_ttl_seconds=0)
    assert second.adopt() == [run.id]
    assert outcome_of(second, run.id).exit_code == 4
    eventually(lambda: not controller.jobs_of(run.id), "the job's deletion once acknowledged")


def test_stop_deletes_the_job_and_its_pods_with_the_grace_period(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    platform = make_platform(stop_grace_seconds=3)
    run, job = launched(platform, controller)
    other, other_job = launched(platform, controller)
    controller.run(job)
    controller.run(other_job)
    what = platform.stop(run.id)
    assert what == f"job {job['metadata']['name']} and its 1 pod (deleted, grace period 3 s)"
    assert controller.jobs_of(run.id) == [] and controller.pods_of(run.id) == []
    assert len(controller.jobs_of(other.id)) == len(controller.pods_of(other.id)) == 1
    outcome = outcome_of(platform, run.id)
    assert not outcome.succeeded and "deleted by the agent" in outcome.reason
    assert platform.stop(run.id) == ""


def test_a_job_that_failed_while_the_agent_was_down_is_reported(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    first = make_platform()
    run = new_run()
    launch(first, run)
    first.close()
    controller.finish(controller.job_of(run.id), 9)
    second = make_platform()
    assert outcome_of(second, run.id).exit_code == 9


# -- through the services ------------------------------------------------------------------


def test_the_agent_fails_a_run_whose_image_cannot_be_pulled(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    """The services' monitor ends the run Failed with the reason and the events in its logs."""
    source = InMemoryRunSource(clock=SystemClock())
    run_id = source.add_run(run_config=KubernetesRun(image="nowhere/missing:2"))
    (run,) = source.ready_runs([], before=datetime.now(timezone.utc) + timedelta(seconds=5)).runs
    (_claim,) = source.claim([run])
    platform = make_platform()
    launch(platform, run)
    job = controller.job_of(run_id)
    controller.event(controller.pod_name(job), "Failed", "Error: ErrImagePull")
    controller.pull_error(job)
    monitor = InfrastructureMonitor(
        source=source,
        platform=platform,
        health=NullHealthReporter(),
        failer=RunFailer(source, "agent-a"),
        agent_name="agent-a",
        clock=SystemClock(),
    )
    eventually(monitor.check, "the monitor to handle the failure")
    assert source.state_of(run_id) == "Failed"
    messages = [log.message for log in source.logs(run_id)]
    assert any("could not pull nowhere/missing:2 (ErrImagePull)" in m for m in messages)
    assert sum("Error: ErrImagePull" in m for m in messages) == 1


def test_an_evicted_pod_fails_the_run_with_the_eviction_message(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    platform = make_platform()
    run, job = launched(platform, controller)
    controller.make_pod(
        job,
        {
            "phase": "Failed",
            "reason": "Evicted",
            "message": "The node was low on resource: memory.",
        },
    )
    outcome = outcome_of(platform, run.id)
    assert not outcome.succeeded
    assert "was evicted: The node was low on resource: memory." in outcome.reason


def test_a_template_field_kubernetes_does_not_know_fails_the_run_without_values(
    make_platform: Callable[..., KubernetesPlatform], controller: JobController
) -> None:
    template = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "flow", "imagePullPolicyy": "Always"},
                    ]
                }
            }
        },
    }
    run = new_run(KubernetesRun(job_template=template, env={"TOKEN": "hunter2"}))
    with pytest.raises(LaunchError) as raised:
        launch(make_platform(), run)
    # Found by our own check (client < 37) or the client's (37+, pydantic): the path either way.
    assert "spec.template.spec.containers.0.imagePullPolicyy" in raised.value.reason
    assert "hunter2" not in raised.value.reason
    assert controller.jobs() == []


def test_the_agent_launches_a_run_and_fails_it_when_its_pod_is_oom_killed(
    emulator: Emulator, controller: JobController
) -> None:
    """Poll, claim, launch a Job, then fail the run from the pod's fate: the whole service."""
    from prefect_agent.services.agent import AgentService
    from prefect_agent.testing import InlineExecutor

    config = AgentConfig(
        name="agent-a",
        labels=["k8s"],
        platform=KubernetesSettings(job_sync_interval_seconds=0.05),
    )
    source = InMemoryRunSource(clock=SystemClock())
    run_id = source.add_run(labels=["k8s"], run_config=KubernetesRun(memory_limit="32Mi"))
    platform = KubernetesPlatform(config, emulator.api_client())
    agent = AgentService(
        config=config,
        source=source,
        platform=platform,
        clock=SystemClock(),
        executor=InlineExecutor(),
    )
    try:
        agent.register()
        agent.step()
        job = controller.job_of(run_id)
        assert job["spec"]["template"]["spec"]["containers"][0]["resources"] == {
            "limits": {"memory": "32Mi"}
        }
        source.set_state(run_id, "Running")  # the flow process started
        controller.event(controller.pod_name(job), "OOMKilling", "Memory cgroup out of memory")
        controller.finish(job, 137, reason="OOMKilled")

        def failed() -> bool:
            agent.step()
            return source.state_of(run_id) == "Failed"

        eventually(failed, "the run to be failed")
    finally:
        platform.close()
    messages = [log.message for log in source.logs(run_id)]
    assert messages[0] == f"Submitted for execution: Job {job['metadata']['name']}"
    assert any("OOMKilled (out of memory, exit code 137)" in m for m in messages)
    details = "\n".join(messages)
    assert details.count("Memory cgroup out of memory") == 1
    assert "terminated: exit code 137, reason OOMKilled" in details


def test_adoption_with_the_api_refusing_degrades_to_monitoring(
    make_platform: Callable[..., KubernetesPlatform], emulator: Emulator
) -> None:
    emulator.forbid("jobs", "batch/v1")
    assert make_platform().adopt() == []


@pytest.mark.parametrize(
    ("api", "warned"),
    [("http://localhost:4200", True), ("http://prefect-apollo.prefect:4200", False)],
)
def test_a_loopback_api_address_is_flagged_because_pods_cannot_reach_it(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, api: str, warned: bool
) -> None:
    caplog.set_level(logging.WARNING)
    config = AgentConfig(api=api, platform=KubernetesSettings())
    KubernetesPlatform(config, emulator.api_client()).close()
    assert any("flow-run pods cannot reach it" in r.getMessage() for r in caplog.records) is warned
