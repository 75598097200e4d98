"""The composition root (adapter selection, layered start-up, signals) and the facades."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import types
from pathlib import Path
from typing import Any

import pytest

from prefect_agent import bootstrap, effective_config, facades
from prefect_agent.adapters.system.clock import SystemClock
from prefect_agent.bootstrap import AdapterOverrides
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.testing import FakePlatform, InMemoryRunSource
from tests.polling import poll

NO_FILE = {"PREFECT__USER_CONFIG_PATH": "/nonexistent/config.toml"}


def test_facades_are_importable_from_the_package() -> None:
    from prefect_agent import DockerAgent, KubernetesAgent, LocalAgent

    assert LocalAgent is facades.LocalAgent
    assert DockerAgent is facades.DockerAgent
    assert KubernetesAgent is facades.KubernetesAgent


def test_local_agent_adds_the_host_name_label_last() -> None:
    # Prefect 1.4.1 keeps constructor labels in their order and appends the host name.
    agent = facades.LocalAgent(labels=["b", "a"], environ=NO_FILE)
    assert agent.labels == ["b", "a", socket.gethostname()]


def test_local_agent_without_host_name_label() -> None:
    agent = facades.LocalAgent(labels=["b", "a"], hostname_label=False, environ=NO_FILE)
    assert agent.labels == ["b", "a"]


def test_host_name_label_is_not_added_twice() -> None:
    agent = facades.LocalAgent(labels=[socket.gethostname()], environ=NO_FILE)
    assert agent.labels == [socket.gethostname()]


def test_docker_desktop_host_name_becomes_its_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(effective_config.socket, "gethostname", lambda: "docker-desktop")
    monkeypatch.setattr(effective_config.socket, "gethostbyname", lambda name: "192.168.65.3")
    assert facades.LocalAgent(environ=NO_FILE).labels == ["192.168.65.3"]


def test_arguments_win_over_environment_and_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[cloud.agent]\nname = "file-name"\nlabels = ["from-file"]\nlevel = "ERROR"\n')
    environ = {"PREFECT__USER_CONFIG_PATH": str(path), "PREFECT__CLOUD__AGENT__NAME": "env-name"}
    agent = facades.LocalAgent(name="arg-name", hostname_label=False, environ=environ)
    assert agent.name == "arg-name"
    assert agent.labels == ["from-file"]  # no labels given: config decides, as in 1.4.1
    assert agent.config.log_level == "ERROR"
    assert agent.resolved.entry("cloud.agent.name").origin == "argument name"


def test_empty_labels_and_env_vars_fall_back_to_configuration() -> None:
    environ = {
        **NO_FILE,
        "PREFECT__CLOUD__AGENT__LABELS": '["cfg"]',
        "PREFECT__CLOUD__AGENT__ENV_VARS": '{"A": "1"}',
    }
    agent = facades.LocalAgent(labels=[], env_vars={}, hostname_label=False, environ=environ)
    assert agent.labels == ["cfg"]
    assert agent.env_vars == {"A": "1"}


def test_common_constructor_arguments() -> None:
    agent = facades.LocalAgent(
        agent_config_id="cfg-1",
        name="n",
        env_vars={"X": "1"},
        max_polls=4,
        agent_address="http://127.0.0.1:8081",
        no_cloud_logs=True,
        import_paths=["/opt/lib"],
        show_flow_logs=True,
        environ=NO_FILE,
    )
    config = agent.config
    assert config.agent_config_id == "cfg-1"
    assert config.max_polls == 4
    assert str(config.agent_address) == "http://127.0.0.1:8081"
    assert config.send_flow_run_logs is False
    assert config.platform.import_paths == ("/opt/lib",)
    assert config.platform.show_flow_logs is True
    assert config.kind is PlatformKind.LOCAL


def test_no_cloud_logs_false_turns_logs_on_over_the_environment() -> None:
    environ = {**NO_FILE, "PREFECT__CLOUD__SEND_FLOW_RUN_LOGS": "false"}
    assert facades.LocalAgent(environ=environ).config.send_flow_run_logs is False
    agent = facades.LocalAgent(no_cloud_logs=False, environ=environ)
    assert agent.config.send_flow_run_logs is True


def test_any_setting_by_field_name() -> None:
    agent = facades.LocalAgent(
        api="http://server:4200",
        api_key="k",
        flow_run_command="python -m prefect execute flow-run",
        environ=NO_FILE,
    )
    assert agent.config.api == "http://server:4200"
    assert agent.config.flow_run_command == ("python", "-m", "prefect", "execute", "flow-run")
    assert "k" not in repr(agent.config.api_key).replace("Secret", "")


def test_unknown_argument_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="argument namespace: namespace: unknown setting"):
        facades.LocalAgent(namespace="x", environ=NO_FILE)


def test_bad_argument_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as caught:
        facades.LocalAgent(agent_address="localhost:8080", environ=NO_FILE)
    assert str(caught.value).startswith("argument agent_address: cloud.agent.agent_address: ")


def test_docker_agent_arguments() -> None:
    agent = facades.DockerAgent(
        base_url="tcp://docker:2375",
        no_pull=True,
        volumes=["/a:/b"],
        show_flow_logs=True,
        networks=["net"],
        reg_allow_list=["registry.example.com"],
        docker_client_timeout=90,
        environ=NO_FILE,
    )
    platform = agent.config.platform
    assert isinstance(platform, DockerSettings)
    assert platform.base_url == "tcp://docker:2375"
    assert platform.no_pull is True
    assert platform.volumes == ("/a:/b",)
    assert platform.networks == ("net",)
    assert platform.reg_allow_list == ("registry.example.com",)
    assert platform.docker_client_timeout == 90
    assert platform.show_flow_logs is True
    assert socket.gethostname() not in agent.labels


def test_docker_agent_reads_the_prefect1_context_keys() -> None:
    environ = {
        **NO_FILE,
        "PREFECT__CONTEXT__BASE_URL": "unix:///d.sock",
        "PREFECT__CONTEXT__NO_PULL": "true",
    }
    platform = facades.DockerAgent(environ=environ).config.platform
    assert isinstance(platform, DockerSettings)
    assert platform.base_url == "unix:///d.sock" and platform.no_pull is True


def test_kubernetes_agent_arguments_and_environment() -> None:
    environ = {**NO_FILE, "NAMESPACE": "from-env", "DELETE_FINISHED_JOBS": "False"}
    agent = facades.KubernetesAgent(
        service_account_name="sa",
        image_pull_secrets=["regcred"],
        job_template_path="/t.yaml",
        volume_mounts=[{"name": "v", "mountPath": "/v"}],
        volumes=[{"name": "v", "emptyDir": {}}],
        environ=environ,
    )
    platform = agent.config.platform
    assert isinstance(platform, KubernetesSettings)
    assert platform.namespace == "from-env"
    assert platform.delete_finished_jobs is False  # the default argument lets the env decide
    assert platform.service_account_name == "sa"
    assert platform.image_pull_secrets == ("regcred",)
    assert platform.job_template_path == "/t.yaml"
    assert platform.volume_mounts[0]["mountPath"] == "/v"
    explicit = facades.KubernetesAgent(namespace="ns", delete_finished_jobs=False, environ=NO_FILE)
    assert explicit.config.platform.namespace == "ns"
    assert explicit.config.platform.delete_finished_jobs is False


def test_start_runs_the_agent_with_injected_ports() -> None:
    source = InMemoryRunSource(clock=SystemClock())
    platform = FakePlatform()
    run_id = source.add_run(labels=["x"])
    agent = facades.LocalAgent(
        labels=["x"],
        hostname_label=False,
        max_polls=1,
        overrides=AdapterOverrides(source=source, platform=platform),
        environ=NO_FILE,
    )
    agent.start()
    assert platform.launched_ids() == [run_id]
    (registered,) = source.agents.values()
    assert registered["type"] == "LocalAgent" and registered["labels"] == ["x"]


def test_start_from_layers_returns_the_config_it_ran_with() -> None:
    from prefect_agent.adapters.config import ArgumentSource, DefaultsSource

    kind = PlatformKind.LOCAL
    layers = [DefaultsSource(kind), ArgumentSource(kind, {"max_polls": 0, "hostname_label": False})]
    source = InMemoryRunSource(clock=SystemClock())
    config = bootstrap.start_from_layers(
        kind, layers, bootstrap.AdapterOverrides(source=source, platform=FakePlatform())
    )
    assert config.max_polls == 0
    assert len(source.agents) == 1


@pytest.mark.parametrize(
    ("kind", "module", "cls"),
    [
        (PlatformKind.LOCAL, "prefect_agent.adapters.local.platform", "LocalPlatform"),
        (PlatformKind.DOCKER, "prefect_agent.adapters.docker.platform", "DockerPlatform"),
        (
            PlatformKind.KUBERNETES,
            "prefect_agent.adapters.kubernetes.platform",
            "KubernetesPlatform",
        ),
    ],
)
def test_platform_for_uses_the_adapter_from_config(
    monkeypatch: pytest.MonkeyPatch, kind: PlatformKind, module: str, cls: str
) -> None:
    built: list[AgentConfig] = []
    made = FakePlatform()

    class Adapter:
        @classmethod
        def from_config(cls, config: AgentConfig) -> Any:
            built.append(config)
            return made

    monkeypatch.setitem(sys.modules, module, types.SimpleNamespace(**{cls: Adapter}))
    settings = {
        PlatformKind.LOCAL: None,
        PlatformKind.DOCKER: DockerSettings(),
        PlatformKind.KUBERNETES: KubernetesSettings(),
    }[kind]
    config = AgentConfig() if settings is None else AgentConfig(platform=settings)
    assert bootstrap.platform_for(config) is made
    assert built == [config]


def test_build_agent_uses_given_ports() -> None:
    source, platform = InMemoryRunSource(), FakePlatform()
    agent = bootstrap.build_agent(AgentConfig(), AdapterOverrides(source=source, platform=platform))
    assert agent.source is source and agent.platform is platform


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_agent_gracefully_and_handlers_are_restored(sig: int) -> None:
    source = InMemoryRunSource(clock=SystemClock())
    agent = bootstrap.build_agent(
        AgentConfig(), AdapterOverrides(source=source, platform=FakePlatform())
    )
    before = signal.getsignal(sig)

    def send_when_registered() -> None:
        poll(lambda: source.agents, 10, step=0.01)
        os.kill(os.getpid(), sig)

    sender = threading.Thread(target=send_when_registered)
    sender.start()
    bootstrap.run_until_signalled(agent)  # returns only because the signal stopped it
    sender.join()
    assert agent.stopping
    assert signal.getsignal(sig) == before


def test_ecs_agent_takes_prefect1_arguments_and_keeps_secrets_masked() -> None:
    from prefect_agent.domain.ecs_settings import ECSSettings

    agent = facades.ECSAgent(
        cluster="flows",
        launch_type="ec2",
        task_definition_path="s3://bucket/td.yaml",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="very-secret",
        region_name="eu-west-1",
        botocore_config={"connect_timeout": 5},
        environ=NO_FILE,
    )
    settings = agent.config.platform
    assert isinstance(settings, ECSSettings)
    assert (settings.cluster, settings.launch_type) == ("flows", "EC2")
    assert settings.aws_secret_access_key is not None
    assert settings.aws_secret_access_key.reveal() == "very-secret"
    assert "very-secret" not in repr(agent.config)
    assert settings.botocore_config == {"connect_timeout": 5}


def test_vertex_agent_takes_prefect1_arguments() -> None:
    from prefect_agent.domain.vertex_settings import VertexSettings

    agent = facades.VertexAgent(project="p", service_account="sa@p", environ=NO_FILE)
    settings = agent.config.platform
    assert isinstance(settings, VertexSettings)
    assert (settings.project, settings.region_name, settings.service_account) == (
        "p",
        "us-central1",
        "sa@p",
    )
    assert settings.parent == "projects/p/locations/us-central1"


def test_facades_take_prefect1_positional_arguments_in_its_order() -> None:
    import inspect

    agent = facades.KubernetesAgent(None, "flows", environ=NO_FILE)
    assert isinstance(agent.config.platform, KubernetesSettings)
    assert agent.config.platform.namespace == "flows"
    shown = list(inspect.signature(facades.VertexAgent).parameters)
    assert shown[:4] == ["project", "region_name", "service_account", "agent_config_id"]
    with pytest.raises(TypeError, match="multiple values for 'project'"):
        facades.VertexAgent("p", project="q", environ=NO_FILE)
    with pytest.raises(TypeError, match="at most 10 positional"):
        facades.LocalAgent(*([None] * 11), environ=NO_FILE)
