"""`prefect agent <type> start|config` and `prefect agent local install`, through click."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Literal

import click
import pytest
from click.testing import CliRunner, Result

from prefect_agent import __version__
from prefect_agent.adapters import kubernetes as kubernetes_adapter
from prefect_agent.adapters.system.clock import SystemClock
from prefect_agent.bootstrap import AdapterOverrides
from prefect_agent.cli.main import prefect
from prefect_agent.testing import FakePlatform, InMemoryRunSource

# Spec 9.1 and 9.2: every 1.4.1 flag, with its short name and whether it repeats.
COMMON_FLAGS = {
    "--key": ("-k", False),
    "--tenant-id": (None, False),
    "--api": ("-a", False),
    "--agent-config-id": (None, False),
    "--name": ("-n", False),
    "--label": ("-l", True),
    "--env": ("-e", True),
    "--max-polls": (None, False),
    "--agent-address": (None, False),
    "--no-cloud-logs": (None, False),
    "--log-level": (None, False),
}
TYPE_FLAGS = {
    "local": {
        "--import-path": ("-p", True),
        "--show-flow-logs": ("-f", False),
        "--hostname-label": (None, False),
        "--flow-run-command": (None, False),
    },
    "docker": {
        "--base-url": ("-b", False),
        "--no-pull": (None, False),
        "--show-flow-logs": ("-f", False),
        "--volume": (None, True),
        "--network": (None, True),
        "--docker-client-timeout": (None, False),
    },
    "kubernetes": {
        "--namespace": (None, False),
        "--job-template": (None, False),
        "--service-account-name": (None, False),
        "--image-pull-secrets": (None, False),
        "--disable-job-deletion": (None, False),
    },
    "ecs": {
        "--cluster": (None, False),
        "--launch-type": (None, False),
        "--task-role-arn": (None, False),
        "--execution-role-arn": (None, False),
        "--task-definition": (None, False),
        "--run-task-kwargs": (None, False),
    },
    "vertex": {
        "--project": (None, False),
        "--region-name": (None, False),
        "--service-account": (None, False),
    },
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    import os

    for name in list(os.environ):
        if name.upper().startswith("PREFECT__") or name in (
            "NAMESPACE",
            "SERVICE_ACCOUNT_NAME",
            "IMAGE_PULL_SECRETS",
            "DELETE_FINISHED_JOBS",
        ):
            monkeypatch.delenv(name)
    user_file = tmp_path / "config.toml"
    monkeypatch.setenv("PREFECT__USER_CONFIG_PATH", str(user_file))
    return user_file


# A job template that exists: `config` reads it as `start` does.
SHIPPED_TEMPLATE = str(Path(kubernetes_adapter.__file__).parent / "job_template.yaml")


def invoke(*args: str, obj: Any = None) -> Result:
    return CliRunner().invoke(prefect, list(args), obj=obj, prog_name="prefect")


def command(kind: str, name: str):  # type: ignore[no-untyped-def]
    group = prefect.commands["agent"].commands[kind]  # type: ignore[attr-defined]
    # The group attaches its commands on first lookup (cli/groups.py LazyGroup).
    return group.get_command(click.Context(group), name)


def effective(kind: str, *args: str) -> dict[str, Any]:
    result = (
        invoke("agent", kind, "config", "--json", "--no-hostname-label", *args)
        if kind == "local"
        else invoke("agent", kind, "config", "--json", *args)
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("kind", ["local", "docker", "kubernetes", "ecs", "vertex"])
def test_start_has_every_1_4_1_flag_with_its_names_and_multiplicity(kind: str) -> None:
    params = {}
    for param in command(kind, "start").params:
        for opt in param.opts:
            params[opt] = param
    for long, (short, multiple) in {**COMMON_FLAGS, **TYPE_FLAGS[kind]}.items():
        assert long in params, long
        param = params[long]
        assert param.multiple is multiple, long
        if short:
            assert short in param.opts, (long, short)
        else:
            assert [o for o in param.opts if not o.startswith("--")] == [], long
    help_text = invoke("agent", kind, "start", "--help").output
    for long, (short, _) in {**COMMON_FLAGS, **TYPE_FLAGS[kind]}.items():
        assert (f"{short}, {long}" if short else long) in help_text
    assert "--log-level [DEBUG|INFO|WARNING|ERROR]" in help_text
    assert "--max-polls INTEGER" in help_text


def test_local_has_the_negatable_hostname_label_and_no_removed_flags() -> None:
    help_text = invoke("agent", "local", "start", "--help").output
    assert "--hostname-label / --no-hostname-label" in help_text
    for removed in ("--token", "--no-docker-interface", "--reg-allow-list"):
        assert removed not in help_text
    assert "--reg-allow-list" not in invoke("agent", "docker", "start", "--help").output
    assert "--delete-finished-jobs" not in invoke("agent", "kubernetes", "start", "--help").output


def test_every_flag_has_one_line_of_help() -> None:
    for kind in ("local", "docker", "kubernetes"):
        for param in command(kind, "start").params:
            assert param.help and "\n" not in param.help, param.name  # type: ignore[attr-defined]


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and __version__ in result.output


COMMON_CASES = [
    (["-k", "secret-key"], "cloud.api_key", "********"),
    (
        ["--tenant-id", "8c3a0ad8-5b40-4b1a-9a40-0b7b1a6f6c11"],
        "cloud.tenant_id",
        "8c3a0ad8-5b40-4b1a-9a40-0b7b1a6f6c11",
    ),
    (["-a", "http://api:4200"], "cloud.api", "http://api:4200"),
    (["--api", "http://api:4200"], "cloud.api", "http://api:4200"),
    (["--agent-config-id", "cfg-1"], "agent.agent_config_id", "cfg-1"),
    (["-n", "my-agent"], "cloud.agent.name", "my-agent"),
    (["-l", "b", "--label", "a", "-l", "b"], "cloud.agent.labels", ["a", "b"]),
    (["-e", "A=1", "--env", "B=x=y"], "cloud.agent.env_vars", {"A": "1", "B": "x=y"}),
    (["--max-polls", "5"], "agent.max_polls", 5),
    (["--agent-address", "http://:8080"], "cloud.agent.agent_address", "http://:8080"),
    (["--no-cloud-logs"], "cloud.send_flow_run_logs", False),
    (["--log-level", "debug"], "cloud.agent.level", "DEBUG"),
]


@pytest.mark.parametrize("kind", ["local", "docker", "kubernetes"])
@pytest.mark.parametrize(("args", "key", "value"), COMMON_CASES)
def test_common_flags_set_their_key(kind: str, args: list[str], key: str, value: Any) -> None:
    entry = effective(kind, *args)[key]
    assert entry["value"] == value
    assert entry["source"].startswith("flag --")


@pytest.mark.parametrize(
    ("kind", "args", "key", "value"),
    [
        ("local", ["-p", "/a", "--import-path", "/b"], "agent.local.import_paths", ["/a", "/b"]),
        ("local", ["-f"], "agent.local.show_flow_logs", True),
        (
            "local",
            ["--flow-run-command", "python -m prefect execute flow-run"],
            "agent.flow_run_command",
            ["python", "-m", "prefect", "execute", "flow-run"],
        ),
        ("docker", ["-b", "tcp://docker:2375"], "context.base_url", "tcp://docker:2375"),
        ("docker", ["--no-pull"], "context.no_pull", True),
        ("docker", ["--show-flow-logs"], "agent.docker.show_flow_logs", True),
        (
            "docker",
            ["--volume", "/a:/b", "--volume", "v:/c"],
            "agent.docker.volumes",
            ["/a:/b", "v:/c"],
        ),
        ("docker", ["--network", "n1", "--network", "n2"], "agent.docker.networks", ["n1", "n2"]),
        ("docker", ["--docker-client-timeout", "90"], "agent.docker.docker_client_timeout", 90.0),
        ("kubernetes", ["--namespace", "flows"], "agent.kubernetes.namespace", "flows"),
        (
            "kubernetes",
            ["--job-template", SHIPPED_TEMPLATE],
            "agent.kubernetes.job_template_path",
            SHIPPED_TEMPLATE,
        ),
        (
            "kubernetes",
            ["--service-account-name", "sa"],
            "agent.kubernetes.service_account_name",
            "sa",
        ),
        (
            "kubernetes",
            ["--image-pull-secrets", "a,b"],
            "agent.kubernetes.image_pull_secrets",
            ["a", "b"],
        ),
        ("kubernetes", ["--disable-job-deletion"], "agent.kubernetes.delete_finished_jobs", False),
    ],
)
def test_type_flags_set_their_key(kind: str, args: list[str], key: str, value: Any) -> None:
    assert effective(kind, *args)[key]["value"] == value


def test_hostname_label_is_added_unless_turned_off() -> None:
    import socket

    on = json.loads(invoke("agent", "local", "config", "--json", "-l", "x").output)
    assert socket.gethostname() in on["cloud.agent.labels"]["value"]
    assert on["cloud.agent.labels"]["source"] == "flag --label + host name"
    off = effective("local", "-l", "x")
    assert off["cloud.agent.labels"]["value"] == ["x"]


def test_config_shows_each_value_source(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_environment.write_text('[cloud.agent]\nname = "from-file"\nlabels = ["f"]\n')
    monkeypatch.setenv("PREFECT__CLOUD__AGENT__LABELS", "from-env")
    result = invoke("agent", "local", "config", "--no-hostname-label", "--max-polls", "3")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines()}
    assert lines["KEY"] == ["KEY", "ENVIRONMENT", "VARIABLE", "VALUE", "SOURCE"]
    assert lines["cloud.agent.name"][1:] == [
        "PREFECT__CLOUD__AGENT__NAME", "from-file", "file", f"{clean_environment}:2"
    ]  # fmt: skip
    assert lines["cloud.agent.labels"][-2:] == ["env", "PREFECT__CLOUD__AGENT__LABELS"]
    assert lines["agent.max_polls"][1:] == ["PREFECT__AGENT__MAX_POLLS", "3", "flag", "--max-polls"]
    assert lines["cloud.api"][2:] == ["http://localhost:4200", "default"]


BAD_INPUTS = [
    (["-e", "FOO"], "Error: flag --env: cloud.agent.env_vars: expected KEY=VALUE, got 'FOO'"),
    (
        ["--agent-address", "localhost:8080"],
        "Error: flag --agent-address: cloud.agent.agent_address: agent address 'localhost:8080' "
        "needs a scheme and a port, e.g. http://:8080 or http://127.0.0.1:8080",
    ),
    (
        ["--agent-address", "http://127.0.0.1"],
        "Error: flag --agent-address: cloud.agent.agent_address: agent address "
        "'http://127.0.0.1' must specify a port, e.g. http://:8080",
    ),
    (
        ["--tenant-id", "acme"],
        "Error: flag --tenant-id: cloud.tenant_id: tenant_id must be a UUID, got 'acme'",
    ),
    (
        ["--log-level", "LOUD"],
        "Error: flag --log-level: cloud.agent.level: must be one of DEBUG, INFO, WARNING, ERROR, "
        "not 'LOUD'",
    ),
    (
        ["--max-polls", "many"],
        "Error: flag --max-polls: agent.max_polls: expected an integer, got 'many'",
    ),
    (
        ["-a", "api.example.com"],
        "Error: flag --api: cloud.api: api must be an http:// or https:// URL, not "
        "'api.example.com'",
    ),
]


@pytest.mark.parametrize("subcommand", ["start", "config"])
@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_flags_give_one_line_and_exit_2(subcommand: str, args: list[str], message: str) -> None:
    result = invoke("agent", "local", subcommand, *args)
    assert result.exit_code == 2
    assert result.stderr == message + "\n"
    assert "Traceback" not in result.output


def test_malformed_user_file_gives_one_line(clean_environment: Path) -> None:
    clean_environment.write_text("[cloud.agent\nname = 1\n")
    result = invoke("agent", "local", "start")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: file {clean_environment}: malformed TOML: ")
    assert "line 1" in result.stderr and result.stderr.count("\n") == 1


def test_wrong_type_in_user_file_names_file_line_key_and_value(clean_environment: Path) -> None:
    clean_environment.write_text('[cloud]\nrequest_timeout = "soon"\n')
    result = invoke("agent", "docker", "config")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: file {clean_environment}:2: cloud.request_timeout: expected a number, got 'soon'\n"
    )


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT__CLOUD__AGENT__LEVEL", "chatty")
    result = invoke("agent", "kubernetes", "start")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: env PREFECT__CLOUD__AGENT__LEVEL: cloud.agent.level: log_level must be one of "
        "DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'CHATTY'\n"
    )


def test_start_runs_the_agent_with_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT__CLOUD__AGENT__ENV_VARS", '{"FROM_ENV": "1"}')
    source = InMemoryRunSource(clock=SystemClock())
    platform = FakePlatform()
    run_id = source.add_run(labels=["night"])
    result = invoke(
        "agent",
        "local",
        "start",
        "--max-polls",
        "1",
        "-l",
        "night",
        "--no-hostname-label",
        "-n",
        "cli-agent",
        "-k",
        "very-secret-key",
        "--log-level",
        "DEBUG",
        obj=AdapterOverrides(source=source, platform=platform),
    )
    assert result.exit_code == 0, result.output
    (agent,) = source.agents.values()
    assert agent["name"] == "cli-agent" and agent["labels"] == ["night"]
    assert agent["type"] == "LocalAgent"
    assert platform.launched_ids() == [run_id]
    assert platform.launches[0].spec.agent_env["FROM_ENV"] == "1"
    assert platform.launches[0].spec.api_key is not None
    assert "Starting LocalAgent with labels" in result.output  # the agent's log lines
    assert "very-secret-key" not in result.output
    assert "very-secret-key" not in result.stderr


def test_secrets_never_appear_in_config_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT__CLOUD__API_KEY", "env-secret-value")
    for args in (
        [],
        ["-k", "flag-secret-value"],
        ["--json"],
        ["--json", "-k", "flag-secret-value"],
    ):
        result = invoke("agent", "local", "config", *args)
        assert result.exit_code == 0
        assert "secret-value" not in result.output
        assert "********" in result.output


def test_local_install_prints_a_supervisord_config_without_the_spacing_bug() -> None:
    tenant = str(uuid.uuid4())
    result = invoke(
        "agent",
        "local",
        "install",
        "-f",
        "-l",
        "a",
        "-l",
        "b c",
        "-e",
        "X=1",
        "-p",
        "/p1",
        "-p",
        "/p2",
        "-k",
        "install-key",
        "--tenant-id",
        tenant,
        "--agent-config-id",
        "cfg",
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "[program:prefect-agent]" in lines
    assert (
        "command=prefect agent local start -f -l a -l 'b c' -e X=1 -p /p1 -p /p2 "
        f"--tenant-id {tenant} --agent-config-id cfg"
    ) in lines
    # The key reaches the program from supervisord's environment: never in the file, never on
    # the command line (visible in ps).
    assert 'environment=PREFECT__CLOUD__API_KEY="%(ENV_PREFECT__CLOUD__API_KEY)s"' in lines
    assert "install-key" not in result.stdout
    assert "PREFECT__CLOUD__API_KEY in its environment" in result.stderr
    assert "stopwaitsecs=60" in lines  # the default 30 s drain plus the margin


def test_local_install_validates_like_start() -> None:
    result = invoke("agent", "local", "install", "-e", "NOEQUALS")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: flag --env: cloud.agent.env_vars: expected KEY=VALUE, got 'NOEQUALS'\n"
    )
    assert "--api" not in invoke("agent", "local", "install", "--help").output


def test_a_field_added_to_a_settings_class_gets_its_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    import attrs

    from prefect_agent.adapters.config.keys import SECTION_CLASSES, Section
    from prefect_agent.cli import agent_commands
    from prefect_agent.domain.docker_settings import DockerSettings
    from prefect_agent.domain.platform_kind import PlatformKind

    @attrs.frozen(kw_only=True)
    class GrownDockerSettings(DockerSettings):
        pull_timeout: float = attrs.field(default=5.0, metadata={"help": "Seconds a pull takes."})
        mode: Literal["fast", "safe"] = "safe"

    monkeypatch.setitem(SECTION_CLASSES, Section.DOCKER, GrownDockerSettings)
    config = agent_commands._config_command(PlatformKind.DOCKER)
    runner = CliRunner()
    help_text = runner.invoke(config, ["--help"]).output
    assert "--pull-timeout NUMBER" in help_text and "Seconds a pull takes." in help_text
    assert "--mode [fast|safe]" in help_text
    result = runner.invoke(config, ["--json", "--pull-timeout", "7", "--mode", "FAST"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["agent.docker.pull_timeout"] == {
        "value": 7.0,
        "source": "flag --pull-timeout",
        "env": "PREFECT__AGENT__DOCKER__PULL_TIMEOUT",
    }
    assert document["agent.docker.mode"]["value"] == "fast"
    monkeypatch.setenv("PREFECT__AGENT__DOCKER__PULL_TIMEOUT", "9")
    from_env = json.loads(runner.invoke(config, ["--json"]).output)
    assert from_env["agent.docker.pull_timeout"]["value"] == 9.0


@pytest.mark.parametrize("layer", ["env", "file", "flag"])
def test_a_secret_from_any_layer_never_reaches_logs_or_output(
    layer: str, clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-never-show-this"
    args = ["--max-polls", "1", "--no-hostname-label", "--log-level", "DEBUG", "-l", "s"]
    if layer == "env":
        monkeypatch.setenv("PREFECT__CLOUD__API_KEY", secret)
    elif layer == "file":
        clean_environment.write_text(f'[cloud]\napi_key = "{secret}"\n')
    else:
        args += ["--key", secret]
    source = InMemoryRunSource(clock=SystemClock())
    platform = FakePlatform()
    source.add_run(labels=["s"])
    result = invoke(
        "agent", "local", "start", *args, obj=AdapterOverrides(source=source, platform=platform)
    )
    assert result.exit_code == 0, result.output
    assert "DEBUG" in result.output or "INFO" in result.output
    assert secret not in result.output and secret not in result.stderr
    spec = platform.launches[0].spec
    assert spec.api_key is not None and spec.api_key.reveal() == secret  # it did reach the run
    shown = invoke("agent", "local", "config", *args[3:]).output
    assert secret not in shown and "********" in shown


def test_max_polls_ends_an_agent_whose_api_is_unreachable(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
    env["HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "prefect_agent", "agent", "local", "start",
         "--api", "http://127.0.0.1:9", "--max-polls", "2", "--no-hostname-label"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    output = done.stdout + done.stderr
    assert output.count("Could not register the agent") == 1  # two attempts, one retry
    assert done.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "http://127.0.0.1:9" in done.stderr.strip().splitlines()[-1]


def platform_bad_inputs(tmp_path: Path) -> list[tuple[str, list[str], str]]:
    """Values only the platform's adapter can judge, before anything connects."""
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("a: [\n")
    return [
        (
            "docker",
            ["--volume", "data/x:/in"],
            "Error: flag --volume: agent.docker.volumes: volume 'data/x:/in': 'data/x' is "
            "neither a host path nor a volume name;",
        ),
        (
            "kubernetes",
            ["--job-template", str(bad_yaml)],
            f"Error: flag --job-template: agent.kubernetes.job_template_path: job template "
            f"{bad_yaml} is not valid YAML",
        ),
        (
            "local",
            ["--state-dir", "/proc/no-such-dir/state"],
            "Error: flag --state-dir: agent.local.state_dir: cannot create "
            "/proc/no-such-dir/state:",
        ),
    ]


@pytest.mark.parametrize("subcommand", ["start", "config"])
@pytest.mark.parametrize("case", range(3))
def test_platform_settings_fail_start_and_config_alike_before_connecting(
    subcommand: str, case: int, tmp_path: Path, clean_environment: Path
) -> None:
    kind, args, message = platform_bad_inputs(tmp_path)[case]
    # An unreachable API and (for Kubernetes) no cluster: the setting is reported first.
    result = invoke("agent", kind, subcommand, "--api", "http://127.0.0.1:9", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1


def test_config_checks_the_state_dir_without_creating_it(
    tmp_path: Path, clean_environment: Path
) -> None:
    state = tmp_path / "not" / "yet"
    result = invoke("agent", "local", "config", "--state-dir", str(state))
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "not").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".prefect-agent")] == []


def test_kubernetes_start_refuses_credentials_in_the_address_without_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    result = invoke("agent", "kubernetes", "start", "--api", "http://u:sekritpw@h:1")
    assert result.exit_code == 2, result.output
    assert "cloud.api: carries credentials" in result.output
    assert "api_key_secret_name" in result.output and "sekritpw" not in result.output


def test_ecs_and_vertex_agents_are_listed_with_start_config_and_explain() -> None:
    listed = invoke("agent", "--help").output
    assert "ecs" in listed and "vertex" in listed
    for kind in ("ecs", "vertex"):
        commands = invoke("agent", kind, "--help").output
        assert all(name in commands for name in ("start", "config", "explain")), commands


def test_ecs_flags_set_their_settings_and_the_launch_type_ignores_case() -> None:
    config = effective(
        "ecs", "--cluster", "c", "--launch-type", "ec2", "--task-definition", "s3://b/t.yaml"
    )
    values = {key: entry["value"] for key, entry in config.items()}
    assert values["agent.ecs.cluster"] == "c"
    assert values["agent.ecs.launch_type"] == "EC2"
    assert values["agent.ecs.task_definition_path"] == "s3://b/t.yaml"
    bad = invoke("agent", "ecs", "config", "--launch-type", "LAMBDA")
    assert bad.exit_code == 2 and "--launch-type" in bad.output and "LAMBDA" in bad.output
