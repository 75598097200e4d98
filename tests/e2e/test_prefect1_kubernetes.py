"""Our Kubernetes agent's Job for a default ``KubernetesRun()``, run for real.

The agent (``prefect agent kubernetes start`` in a subprocess) creates the Job in the kmock
emulator; the test plays the Job controller and kubelet: it runs the Job's flow container on
the real Docker engine (its command, args and environment as stored) and reports the exit
code as the Job's status. The Job names Prefect's default image ``prefecthq/prefect:1.4.1``,
which no registry here can serve: the node's copy of it is the locally built flow image with
Prefect 1.4.1 (scripts/prefect1-image.sh). The container uses the host network to reach the
embedded API and sees the flow scripts at their paths (Local storage, stored as scripts).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from prefect_agent.server.testing import running_server
from tests.e2e.prefect1_harness import (
    EXAMPLES,
    MAPPED_FLOW,
    Prefect1Client,
    World,
    api_key_of,
    start_agent,
)
from tests.prefect1.venv import Prefect1

pytest.importorskip("kmock")
from tests.kubernetes.emulator import NAMESPACE, JobController, running_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.kubernetes, pytest.mark.docker, pytest.mark.slow]

LABEL = "p1-k8s"
DEFAULT_IMAGE = "prefecthq/prefect:1.4.1"


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: kmock\n"
        f"clusters: [{{name: kmock, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: kmock, user: {}}]\n"
        "contexts: [{name: kmock, context: {cluster: kmock, user: kmock}}]\n"
    )
    return path


def run_as_kubelet(
    engine: Any, job: dict[str, Any], image: str, api_key: str | None
) -> tuple[int, str]:
    """Run the Job's ``flow`` container on Docker, the node's image standing for the default."""
    pod = job["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "flow")
    assert container["image"] == DEFAULT_IMAGE, container
    env = {}
    for entry in container.get("env") or ():
        env[entry["name"]] = entry.get("value", api_key)  # a secretKeyRef holds the key
    started = engine.containers.run(
        image,
        entrypoint=container.get("command"),
        command=container.get("args"),
        environment=env,
        volumes={str(EXAMPLES): {"bind": str(EXAMPLES), "mode": "ro"}},
        network_mode="host",
        labels={"prefect-agent-test": "prefect1-k8s-job"},
        detach=True,
    )
    try:
        code = int(started.wait(timeout=180)["StatusCode"])
        return code, started.logs().decode(errors="replace")
    finally:
        started.remove(force=True)


def test_the_job_of_a_default_kubernetes_run_runs_a_prefect1_flow_to_success(
    prefect1: Prefect1,
    prefect1_image: str,
    docker_engine: Any,
    tmp_path: Path,
) -> None:
    with running_emulator() as emulator, running_server() as api:
        client = Prefect1Client(prefect1, api, tmp_path / "client-home")
        _, (run_id,) = client.register(
            MAPPED_FLOW, labels=[LABEL], run_config={"type": "KubernetesRun"},
            runs=[{"parameters": {"count": 3}}],
        )  # fmt: skip
        agent = start_agent(
            "kubernetes", api, [LABEL], tmp_path, "--namespace", NAMESPACE,
            name=f"p1-k8s-{uuid.uuid4().hex[:8]}",
            env={"KUBECONFIG": str(kubeconfig(tmp_path / "kubeconfig", emulator.url))},
        )  # fmt: skip
        world = World(api, client, agent, tmp_path)
        try:
            controller = JobController(emulator.api_client())
            job = world.agent.eventually(lambda: controller.jobs_of(run_id), "the run's Job", 90)[0]
            controller.run(job)
            code, output = run_as_kubelet(docker_engine, job, prefect1_image, api_key_of(api))
            controller.finish(job, code)
            world.wait([run_id], deadline=60)
            assert code == 0, output
            world.expect(run_id, "Success")
            world.logs_with(run_id, "Sum of 3 squares: 14")
        finally:
            agent.stop()
