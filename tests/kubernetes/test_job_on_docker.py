"""A generated Job's container really runs: the test plays kubelet with the Docker engine.

The platform creates the Job in the kmock emulator; the test reads it back as the API server
stored it, runs its flow container on the real Docker engine (image, command/args, env with the
secretKeyRef resolved as kubelet would, memory limit), and reports the result as the Job
controller would. The image's ``prefect`` is a stand-in script that prints what it was given.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.run_config import KubernetesRun
from tests.kubernetes.emulator import JobController, running_emulator
from tests.polling import poll

pytestmark = [pytest.mark.kubernetes, pytest.mark.docker]

docker = pytest.importorskip("docker")

IMAGE = "local/busybox:latest"  # built by scripts/docker-engine.sh up
SECRETS = {("prefect-api-key", "key"): "pcu_from_the_secret"}
FAKE_PREFECT = """#!/bin/sh
echo "ARGV=$*"
env
"""


def _unavailable(reason: str) -> None:
    if os.environ.get("PREFECT_AGENT_DOCKER_REQUIRED") == "1":
        pytest.fail(f"{reason} (PREFECT_AGENT_DOCKER_REQUIRED=1)")
    pytest.skip(reason)


@pytest.fixture
def engine() -> Iterator[Any]:
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:  # any failure to reach the engine means "no engine here"
        _unavailable(f"no Docker engine reachable ({exc}); run scripts/docker-engine.sh up")
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        _unavailable(f"image {IMAGE} is missing; run scripts/docker-engine.sh up")
    yield client
    client.close()


def _env(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as kubelet resolves it (secretKeyRef from SECRETS)."""
    env = {}
    for entry in container.get("env") or ():
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = SECRETS[(ref["name"], ref["key"])]
    return env


def _memory(quantity: str | None) -> str | None:
    if quantity is None:
        return None
    for suffix, unit in (("Mi", "m"), ("Gi", "g")):
        if quantity.endswith(suffix):
            return quantity[: -len(suffix)] + unit
    return quantity


def run_like_kubelet(engine: Any, job: dict[str, Any], script: Path) -> tuple[int, str]:
    pod = job["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "flow")
    # Kubernetes ``command`` replaces the image ENTRYPOINT, ``args`` its CMD.
    started = engine.containers.run(
        container["image"],
        entrypoint=container.get("command"),
        command=container.get("args"),
        environment=_env(container),
        volumes={str(script): {"bind": "/bin/prefect", "mode": "ro"}},
        mem_limit=_memory(container.get("resources", {}).get("limits", {}).get("memory")),
        network_mode="none",
        labels={"prefect-agent-test": "k8s-job-on-docker"},
        detach=True,
    )
    try:
        code = int(started.wait(timeout=60)["StatusCode"])
        return code, started.logs().decode()
    finally:
        started.remove(force=True)


def test_a_generated_job_runs_the_flow_run_command_with_its_environment(
    engine: Any, tmp_path: Path
) -> None:
    from prefect_agent.adapters.kubernetes.platform import KubernetesPlatform

    script = tmp_path / "prefect"
    script.write_text(FAKE_PREFECT)
    script.chmod(0o755)
    config = AgentConfig(
        name="docker-kubelet",
        labels=["k8s"],
        env_vars={"AGENT_VAR": "from-agent"},
        api_key="pcu_from_the_secret",
        backend="cloud",
        platform=KubernetesSettings(
            api_key_secret_name="prefect-api-key",
            api_key_secret_key="key",
            job_sync_interval_seconds=0.05,
        ),
    )
    run = FlowRun(
        id=str(uuid.uuid4()),
        version=3,
        state="Submitted",
        flow_id=str(uuid.uuid4()),
        core_version="1.4.1",
        run_config=KubernetesRun(image=IMAGE, env={"RUN_VAR": "from-run"}, memory_limit="64Mi"),
    )
    with running_emulator() as emulator:
        platform = KubernetesPlatform(config, emulator.api_client())
        try:
            platform.launch(run, build_launch_spec(run, config, tenant_id=str(uuid.uuid4())))
            controller = JobController(emulator.api_client())
            job = controller.job_of(run.id)
            code, output = run_like_kubelet(engine, job, script)
            controller.finish(job, code)
            outcome = poll(
                lambda: next((o for o in platform.outcomes() if o.run_id == run.id), None),
                20,
                step=0.02,
            )
        finally:
            platform.close()
    lines = output.splitlines()
    assert code == 0, output
    assert lines[0] == "ARGV=execute flow-run"
    env = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    assert env["PREFECT__CONTEXT__FLOW_RUN_ID"] == run.id
    assert env["PREFECT__CONTEXT__FLOW_ID"] == run.flow_id
    assert env["PREFECT__CONTEXT__IMAGE"] == IMAGE
    assert env["PREFECT__CLOUD__API_KEY"] == "pcu_from_the_secret"
    assert env["PREFECT__BACKEND"] == "cloud"
    assert env["PREFECT__CLOUD__AGENT__LABELS"] == "['k8s']"
    assert env["AGENT_VAR"] == "from-agent"
    assert env["RUN_VAR"] == "from-run"
    assert env["PREFECT__ENGINE__FLOW_RUNNER__DEFAULT_CLASS"] == (
        "prefect.engine.cloud.CloudFlowRunner"
    )
    # The key reached the container through the Secret, never through the Job object.
    assert "pcu_from_the_secret" not in str(job)
    assert outcome is not None and outcome.succeeded
