"""Users cancel Kubernetes runs, some running, some stuck before their flow started.

The kmock emulator stands in for the cluster (tests/kubernetes/emulator.py): the test plays
the Job controller and kubelet, making each Job's pod Running or leaving it Pending (a pod
waiting for its image or for room, whose flow never started). Scaled for CI: 8 runs, 4
cancelled (docs/operations.md).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from prefect_agent.server.testing import RunningServer
from tests.kubernetes.emulator import Emulator, JobController
from tests.reliability.harness import InProcessAgent, run_logs, seed_runs, set_states, states_of
from tests.reliability.harness import wait_until as until

RUNS = 8


@pytest.fixture(scope="module")
def prefect1_made(prefect1: Any) -> dict[str, Any]:
    made: dict[str, Any] = prefect1.json_of(
        "import json; import prefect.engine.state as s\n"
        "from prefect.run_configs import KubernetesRun\n"
        "print(json.dumps({'Cancelling': s.Cancelling('Cancelled by its user').serialize(), "
        "'KubernetesRun': KubernetesRun(image='example/flow:1', image_pull_secrets=[])"
        ".serialize()}))"
    )
    return made


def test_cancelling_kubernetes_runs_deletes_their_jobs_and_pods(
    api: RunningServer, emulator: Emulator, prefect1_made: dict[str, Any]
) -> None:
    from prefect_agent.adapters.kubernetes.platform import KubernetesPlatform
    from prefect_agent.domain.kubernetes_settings import KubernetesSettings

    controller = JobController(emulator.api_client())
    run_ids = seed_runs(api, RUNS, run_config=prefect1_made["KubernetesRun"])
    with InProcessAgent(
        api.url,
        name="k8s-canceller",
        make_platform=lambda config: KubernetesPlatform(config, emulator.api_client()),
        platform=KubernetesSettings(job_sync_interval_seconds=0.2, stop_grace_seconds=5),
        monitor_interval=0.5,
    ) as agent:
        assert until(lambda: all(controller.jobs_of(r) for r in run_ids), 30)
        jobs = {run_id: controller.job_of(run_id) for run_id in run_ids}
        running, stuck = run_ids[: RUNS // 2], run_ids[RUNS // 2 :]
        for run_id in running:
            controller.run(jobs[run_id])
        for run_id in stuck:  # the image is still being pulled: the flow never started
            controller.make_pod(jobs[run_id], {"phase": "Pending"})
        victims = running[:2] + stuck[:2]
        others = [r for r in run_ids if r not in victims]
        began = time.monotonic()
        set_states(api, victims, prefect1_made["Cancelling"])
        assert until(
            lambda: (
                states_of(api, victims).get("Cancelled") == len(victims)
                and not any(controller.jobs_of(v) or controller.pods_of(v) for v in victims)
            ),
            30,
        ), states_of(api, victims)
        took = time.monotonic() - began
        assert all(len(controller.jobs_of(r)) == len(controller.pods_of(r)) == 1 for r in others), (
            "a run nobody cancelled was touched"
        )
        assert states_of(api, others) == {"Submitted": len(others)}
        agent.wake()
    print(
        f"\n[reliability] cancel Kubernetes runs: runs={RUNS}, cancelled={len(victims)} "
        f"(2 running, 2 Pending), jobs and pods gone after {took:.1f}s"
    )
    for run_id in victims:
        name = jobs[run_id]["metadata"]["name"]
        assert any(
            f"agent k8s-canceller stopped job {name} and its 1 pod (deleted, grace period 5 s)" in m
            for m in run_logs(api, run_id)
        ), run_logs(api, run_id)
