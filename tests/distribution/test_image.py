"""The agent image: the Dockerfile builds on the real engine (from a locally made Debian base,
as no registry is reachable) and the container runs what ``prefect agent kubernetes install``
deploys, against the embedded API and the kmock Kubernetes emulator."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner

from prefect_agent import __version__
from prefect_agent.cli.main import prefect
from prefect_agent.server.testing import RunningServer, running_server
from tests.distribution.agent_image import BuiltImage, local_base_image
from tests.distribution.venvs import PREFECT_CORE, ROOT
from tests.docker.conftest import docker_engine  # noqa: F401 - the shared engine fixture
from tests.kubernetes.emulator import JobController, running_emulator
from tests.network import free_port
from tests.polling import eventually

pytestmark = [pytest.mark.distribution, pytest.mark.docker, pytest.mark.slow]

LABEL = "image-test"


@pytest.fixture(scope="module")
def agent_image(docker_engine: Any) -> Iterator[BuiltImage]:  # noqa: F811
    # One build covers both options: the Kubernetes extra and Prefect core next to the agent.
    build_args = {
        "BASE_IMAGE": local_base_image(),
        "EXTRAS": "kubernetes",
        "PREFECT_CORE": " ".join(PREFECT_CORE),
    }
    built = BuiltImage(docker_engine, build_args)
    try:
        yield built
    finally:
        built.remove()


def shell(agent_image: BuiltImage, script: str) -> str:
    output: bytes = agent_image.client.containers.run(
        agent_image.tag, ["-c", script], entrypoint="sh", remove=True
    )
    return output.decode()


def test_the_dockerfile_defaults_to_an_official_python_image() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.\d+-slim", text, flags=re.M)
    assert len(re.findall(r"^FROM \$\{BASE_IMAGE\}", text, flags=re.M)) == 2  # multi-stage


def test_the_image_is_non_root_with_the_agent_as_entry_point(agent_image: BuiltImage) -> None:
    config = agent_image.image.attrs["Config"]
    assert config["User"] == "10001"
    assert config["Entrypoint"] == ["prefect-agent"]
    version = agent_image.client.containers.run(agent_image.tag, ["--version"], remove=True)
    assert version.decode().strip() == f"prefect-agent, version {__version__}"
    assert shell(agent_image, "id -u").strip() == "10001"


def test_the_final_stage_has_no_build_tools(agent_image: BuiltImage) -> None:
    found = shell(
        agent_image,
        "for tool in gcc cc make pip pip3 git; do command -v $tool; done;"
        " ls /opt/prefect-agent/bin; ls /src 2>/dev/null || echo no-source",
    )
    assert "prefect-agent" in found and "no-source" in found
    assert not re.search(r"/(gcc|cc|make|git)$|/pip3?$", found, flags=re.M), found


def test_with_prefect_core_in_the_image_prefect_agent_keeps_its_agent(
    agent_image: BuiltImage,
) -> None:
    found = shell(agent_image, "prefect version; prefect agent --help")
    assert found.splitlines()[0] == "1.4.1"  # Prefect core's own command...
    assert f"prefect-agent {__version__}'s agents" in " ".join(found.split())  # ...but our agent


def install_container_env(api: RunningServer, image: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment of the agent container in what ``install`` prints, with
    the key resolved from the Secret it prints beside the Deployment (as the kubelet would)."""
    assert api.api_key
    done = CliRunner().invoke(
        prefect,
        ["agent", "kubernetes", "install", "--backend", "server", "--api", api.url,
         "--key", api.api_key, "--label", LABEL, "--image", image],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    manifests = {m["kind"]: m for m in yaml.safe_load_all(done.output)}
    (container,) = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image
    secret = manifests["Secret"]
    env = {}
    for item in container["env"]:
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"]
            env[item["name"]] = secret["stringData"][ref["key"]]
        else:
            env[item["name"]] = item["value"]
    return list(container["command"]), env


def test_the_install_defaults_to_this_image_name_and_tag() -> None:
    done = CliRunner().invoke(prefect, ["agent", "kubernetes", "install"])
    container = list(yaml.safe_load_all(done.output))[-1]["spec"]["template"]["spec"]
    assert container["containers"][0]["image"] == f"prefect-agent:{__version__}"
    # docs/kubernetes.md builds exactly that tag.
    assert 'docker build -t "prefect-agent:' in (ROOT / "docs" / "kubernetes.md").read_text()


def test_the_container_runs_the_install_command_line_and_stops_on_sigterm(
    agent_image: BuiltImage, tmp_path: Path
) -> None:
    with running_server() as api, running_emulator() as cluster:
        command, env = install_container_env(api, agent_image.tag)
        assert env["PREFECT__CLOUD__API_KEY"] == api.api_key
        # Host networking here (the engine has no bridge): a free port instead of 8080.
        health = free_port()
        env["PREFECT__CLOUD__AGENT__AGENT_ADDRESS"] = f"http://127.0.0.1:{health}"
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {"server": cluster.url}}],
            "users": [{"name": "test", "user": {"token": "test"}}],
            "contexts": [{"name": "emulator",
                          "context": {"cluster": "emulator", "user": "test"}}],
        }))  # fmt: skip
        kubeconfig.chmod(0o644)
        env["KUBECONFIG"] = "/etc/prefect-agent/kubeconfig"
        container = agent_image.client.containers.run(
            agent_image.tag, command[1:], entrypoint=command[0], environment=env,
            network_mode="host", detach=True, name=f"prefect-agent-image-{uuid.uuid4().hex[:8]}",
            volumes={str(kubeconfig): {"bind": env["KUBECONFIG"], "mode": "ro"}},
        )  # fmt: skip
        try:

            def healthy() -> bool:
                container.reload()
                assert container.status != "exited", container.logs().decode()[-3000:]
                try:
                    return requests.get(f"http://127.0.0.1:{health}/api/health", timeout=2).ok
                except requests.RequestException:
                    return False

            eventually(healthy, "the agent container's health probe", deadline=90)
            # It really is a working Kubernetes agent: a run with its label becomes a Job.
            run_id = api.create_run(labels=[LABEL])
            jobs = JobController(cluster.api_client())
            eventually(lambda: jobs.jobs_of(run_id), "the agent to create the run's Job", 60)
            container.kill(signal="SIGTERM")
            status = container.wait(timeout=60)
            logs = container.logs().decode()
            assert status["StatusCode"] == 0, logs[-3000:]
            assert "stopped" in logs, logs[-3000:]
        finally:
            container.remove(force=True)
