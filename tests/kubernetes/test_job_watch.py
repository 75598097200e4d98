"""Monitoring by list-then-watch against the emulator: resumed streams, 410 Gone, bookmarks,
missed events, and a cost that does not grow with the number of jobs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.outcomes import InfrastructureOutcome
from tests import polling
from tests.kubernetes.emulator import NAMESPACE, Emulator, JobController, running_emulator
from tests.kubernetes.test_platform_monitoring import launched

pytestmark = pytest.mark.kubernetes

from prefect_agent.adapters.kubernetes.platform import KubernetesPlatform  # noqa: E402

DEADLINE = 20.0


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def controller(emulator: Emulator) -> JobController:
    return JobController(emulator.api_client())


@pytest.fixture
def platform(emulator: Emulator) -> Iterator[KubernetesPlatform]:
    config = AgentConfig(
        name="agent-a", platform=KubernetesSettings(job_sync_interval_seconds=0.05)
    )
    platform = KubernetesPlatform(config, emulator.api_client())
    yield platform
    platform.close()


def outcome(platform: KubernetesPlatform, run_id: str) -> InfrastructureOutcome:
    seen: list[InfrastructureOutcome] = []

    def found() -> InfrastructureOutcome | None:
        seen.extend(platform.outcomes())
        return next((o for o in seen if o.run_id == run_id), None)

    result: InfrastructureOutcome = polling.eventually(found, f"the outcome of {run_id}", DEADLINE)
    return result


def foreign_job(controller: JobController) -> None:
    """Create a job of another agent, which this agent's label-selected streams never see."""
    foreign = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"other-{uuid.uuid4().hex[:8]}",
            "namespace": NAMESPACE,
            "labels": {"prefect-agent.io/owner": "agent-b"},
        },
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}},
    }
    controller.batch.create_namespaced_job(NAMESPACE, foreign, _preload_content=False)


def watching(emulator: Emulator, count: int = 2) -> Callable[[], bool]:
    """True once ``count`` watch streams (jobs and pods) are open."""
    return lambda: bool(emulator.in_loop(lambda: len(emulator.handler.watchers) >= count))


def test_running_jobs_cost_no_listing_per_pass(
    platform: KubernetesPlatform, controller: JobController, emulator: Emulator
) -> None:
    """Many passes over 30 running jobs list nothing: the watch streams carry the changes."""
    for _ in range(30):
        _, job = launched(platform, controller)
        controller.run(job)
    polling.eventually(watching(emulator), "the watch streams", DEADLINE)
    lists = emulator.count("list", "jobs") + emulator.count("list", "pods")
    for _ in range(20):
        platform.sync()
    run, job = launched(platform, controller)
    controller.finish(job, 3)
    assert outcome(platform, run.id).exit_code == 3
    assert emulator.count("list", "jobs") + emulator.count("list", "pods") == lists


def test_a_watch_resumed_after_410_gone_lists_again_and_reports_the_failure(
    platform: KubernetesPlatform, controller: JobController, emulator: Emulator
) -> None:
    run, job = launched(platform, controller)
    polling.eventually(watching(emulator), "the watch streams", DEADLINE)
    lists = emulator.count("list", "jobs")
    # Another agent's job moves the version past the last one this agent's streams saw.
    foreign_job(controller)
    emulator.in_loop(emulator.handler.expire_history)
    emulator.in_loop(emulator.handler.close_watches)
    polling.eventually(
        lambda: emulator.count("list", "jobs") > lists, "a listing after 410 Gone", DEADLINE
    )
    controller.finish(job, 7)
    assert outcome(platform, run.id).exit_code == 7


def test_events_missed_while_disconnected_are_recovered_by_the_listing(
    platform: KubernetesPlatform, controller: JobController, emulator: Emulator
) -> None:
    run, job = launched(platform, controller)
    polling.eventually(watching(emulator), "the watch streams", DEADLINE)
    emulator.handler.refuse_watches = True
    emulator.in_loop(emulator.handler.close_watches)
    polling.eventually(
        lambda: not emulator.in_loop(lambda: emulator.handler.watchers), "no watch", DEADLINE
    )
    # The job fails while the agent cannot watch, and the API server compacts the event away.
    controller.finish(job, 5)
    emulator.in_loop(emulator.handler.expire_history)
    emulator.handler.refuse_watches = False
    assert outcome(platform, run.id).exit_code == 5


def test_bookmarks_keep_the_resume_point_fresh_so_no_listing_is_needed(
    platform: KubernetesPlatform, controller: JobController, emulator: Emulator
) -> None:
    emulator.handler.bookmark_interval = 0.05
    run, job = launched(platform, controller)
    polling.eventually(watching(emulator), "the watch streams", DEADLINE)
    # Another agent's jobs move the API server's version on; this agent's streams see none
    # of them, only the bookmarks that carry the new version.
    for _ in range(3):
        foreign_job(controller)
    sent = int(emulator.in_loop(lambda: emulator.handler.bookmarks_sent))
    polling.eventually(
        lambda: emulator.in_loop(lambda: emulator.handler.bookmarks_sent) >= sent + 4,
        "bookmarks after the foreign changes",
        DEADLINE,
    )
    lists = emulator.count("list", "jobs")
    emulator.in_loop(emulator.handler.expire_history)
    emulator.in_loop(emulator.handler.close_watches)
    polling.eventually(watching(emulator), "the resumed watch streams", DEADLINE)
    controller.finish(job, 0)
    assert outcome(platform, run.id).succeeded
    assert emulator.count("list", "jobs") == lists, "resumed from the bookmark, no 410"


def test_cancellation_deletes_the_job_found_by_its_label_not_a_full_listing(
    platform: KubernetesPlatform, controller: JobController, emulator: Emulator
) -> None:
    jobs: list[dict[str, Any]] = []
    for _ in range(5):
        jobs.append(launched(platform, controller)[1])
    run, job = launched(platform, controller)
    controller.run(job)
    assert "deleted" in platform.stop(run.id)
    assert controller.jobs_of(run.id) == [] and controller.pods_of(run.id) == []
    assert len(controller.jobs()) == 5
    result = outcome(platform, run.id)
    assert not result.succeeded and "deleted by the agent" in result.reason
