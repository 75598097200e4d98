"""KubernetesPlatform against the kmock emulator: what run configs may ask for, template
sources, the agent's template read per run, and credentials in the API address."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import ConfigError, LaunchError
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.run_config import KubernetesRun
from tests.kubernetes.emulator import Emulator, JobController

pytestmark = pytest.mark.kubernetes

from prefect_agent.adapters.kubernetes.platform import KubernetesPlatform  # noqa: E402

HOST_PATH_JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {"name": "flow", "volumeMounts": [{"name": "h", "mountPath": "/h"}]}
                ],
                "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
            }
        }
    },
}


@pytest.fixture
def make_platform(emulator: Emulator) -> Iterator[Callable[..., KubernetesPlatform]]:
    made: list[KubernetesPlatform] = []

    def make(api: str = "http://prefect:4200", **settings: Any) -> KubernetesPlatform:
        config = AgentConfig(name="policy", api=api, platform=KubernetesSettings(**settings))
        platform = KubernetesPlatform(config, emulator.api_client())
        made.append(platform)
        return platform

    yield make
    for platform in made:
        platform.close()


def launch(platform: KubernetesPlatform, run_config: KubernetesRun, api: str = "") -> FlowRun:
    run = FlowRun(
        id=str(uuid.uuid4()),
        version=2,
        state="Submitted",
        flow_id=str(uuid.uuid4()),
        run_config=run_config,
        core_version="1.4.1",
    )
    config = AgentConfig(
        name="policy", api=api or "http://prefect:4200", platform=KubernetesSettings()
    )
    platform.launch(run, build_launch_spec(run, config, tenant_id=None))
    return run


def test_a_host_path_template_is_refused_and_allowed_by_the_operator(
    make_platform: Callable[..., KubernetesPlatform], emulator: Emulator
) -> None:
    with pytest.raises(LaunchError, match=r"volumes\[0\].hostPath is refused .* 'host-path'"):
        launch(make_platform(), KubernetesRun(job_template=HOST_PATH_JOB))
    run = launch(
        make_platform(run_pod_permissions=["host-path"]), KubernetesRun(job_template=HOST_PATH_JOB)
    )
    assert JobController(emulator.api_client()).job_of(run.id)


def test_service_accounts_from_run_configs(
    make_platform: Callable[..., KubernetesPlatform],
) -> None:
    with pytest.raises(LaunchError, match="service_account_name 'admin' is refused"):
        launch(make_platform(), KubernetesRun(service_account_name="admin"))
    template = {"kind": "Job", "spec": {"template": {"spec": {"serviceAccountName": "admin"}}}}
    with pytest.raises(LaunchError, match="serviceAccountName 'admin' is refused"):
        launch(make_platform(), KubernetesRun(job_template=template))
    launch(
        make_platform(run_service_accounts=["admin"]), KubernetesRun(service_account_name="admin")
    )
    launch(make_platform(service_account_name="flows"), KubernetesRun(service_account_name="flows"))


def test_a_run_config_cannot_read_agent_files(
    make_platform: Callable[..., KubernetesPlatform], tmp_path: Path
) -> None:
    secret = tmp_path / "config.toml"
    secret.write_text('[cloud]\napi_key = "pcu_SECRET"\n')
    allowed = tmp_path / "templates"
    allowed.mkdir()
    (allowed / "job.yaml").write_text(yaml.safe_dump({"kind": "Job"}))
    with pytest.raises(LaunchError) as caught:
        launch(make_platform(), KubernetesRun(job_template_path=str(secret)))
    assert "outside agent.kubernetes.run_template_dir" in str(caught.value)
    assert "SECRET" not in str(caught.value)
    with pytest.raises(LaunchError, match="run_template_urls"):
        launch(make_platform(), KubernetesRun(job_template_path="http://169.254.169.254/x"))
    platform = make_platform(run_template_dir=str(allowed))
    launch(platform, KubernetesRun(job_template_path=str(allowed / "job.yaml")))
    with pytest.raises(LaunchError, match="outside"):
        launch(platform, KubernetesRun(job_template_path=f"{allowed}/../config.toml"))


def test_the_agent_template_is_read_for_each_run(
    make_platform: Callable[..., KubernetesPlatform],
    emulator: Emulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump({"kind": "Job", "metadata": {"labels": {"team": "one"}}}))
    platform = make_platform(job_template_path=str(path))
    controller = JobController(emulator.api_client())
    first = launch(platform, KubernetesRun())
    path.write_text(yaml.safe_dump({"kind": "Job", "metadata": {"labels": {"team": "two"}}}))
    second = launch(platform, KubernetesRun())
    path.write_text("kind: [broken")
    with caplog.at_level(logging.WARNING):
        third = launch(platform, KubernetesRun())
    labels = [controller.job_of(r.id)["metadata"]["labels"]["team"] for r in (first, second, third)]
    assert labels == ["one", "two", "two"]  # an unreadable template: the last good copy
    assert any("using the copy read before" in r.getMessage() for r in caplog.records)


def test_credentials_in_the_api_address(
    make_platform: Callable[..., KubernetesPlatform], emulator: Emulator
) -> None:
    api = "http://user:s3cret-pw@prefect:4200"
    with pytest.raises(ConfigError) as caught:
        make_platform(api=api)
    assert "api_key_secret_name" in str(caught.value) and "s3cret-pw" not in str(caught.value)
    platform = make_platform(api=api, api_key_secret_name="prefect-api")
    run = launch(platform, KubernetesRun(), api=api)
    job = JobController(emulator.api_client()).job_of(run.id)
    assert "s3cret-pw" not in yaml.safe_dump(job)
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PREFECT__CLOUD__API"]["valueFrom"]["secretKeyRef"] == {
        "name": "prefect-api",
        "key": "api",
    }
