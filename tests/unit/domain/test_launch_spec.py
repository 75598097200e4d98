import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.errors import IncompatibleRunConfig, LaunchError
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.images import default_image, flow_image, storage_image_name
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.launch_spec import (
    SEND_LOGS,
    build_launch_spec,
    default_command,
)
from prefect_agent.domain.run_config import DockerRun, KubernetesRun, LocalRun

TENANT = "11111111-1111-1111-1111-111111111111"


def run(**kw):
    base = dict(id="fr-1", version=3, state="Scheduled", flow_id="flow-1", name="nice-run")
    base.update(kw)
    return FlowRun(**base)


def test_local_environment_matches_prefect_1_4_1():
    config = AgentConfig(
        labels=["dev", "vm"],
        env_vars={"AGENT_VAR": "x", "PREFECT__CLOUD__API": "ignored"},
    )
    spec = build_launch_spec(
        run(run_config=LocalRun(env={"RC_VAR": "y", SEND_LOGS: "false"}, working_dir="/tmp")),
        config,
        tenant_id=None,
    )
    env = spec.environment({"PATH": "/usr/bin", "HOME": "/root", "PYTHONPATH": "/tmp:/opt/lib"})
    assert env == {
        "AGENT_VAR": "x",
        "HOME": "/root",
        "PATH": "/usr/bin",
        "PREFECT__BACKEND": "server",
        "PREFECT__CLOUD__AGENT__LABELS": "['dev', 'vm']",
        "PREFECT__CLOUD__API": "http://localhost:4200",
        SEND_LOGS: "false",
        "PREFECT__CLOUD__USE_LOCAL_SECRETS": "false",
        "PREFECT__CONTEXT__FLOW_ID": "flow-1",
        "PREFECT__CONTEXT__FLOW_RUN_ID": "fr-1",
        "PREFECT__ENGINE__FLOW_RUNNER__DEFAULT_CLASS": "prefect.engine.cloud.CloudFlowRunner",
        "PREFECT__LOGGING__LEVEL": "INFO",
        "PYTHONPATH": "/tmp:/opt/lib",
        "RC_VAR": "y",
    }
    assert spec.working_dir == "/tmp"


def test_container_environment_has_the_compatibility_names_and_the_image():
    config = AgentConfig(platform=DockerSettings(), labels=["dev"], env_vars={"AGENT_VAR": "x"})
    rc = DockerRun(env={"RC": "1"})
    spec = build_launch_spec(run(run_config=rc, core_version="1.4.1"), config, tenant_id=TENANT)
    env = spec.environment({"PREFECT__CLOUD__API": "http://host.docker.internal:4200"})
    assert env["PREFECT__CLOUD__API"] == "http://host.docker.internal:4200"
    assert env["PREFECT__CLOUD__API_KEY"] == "" and env["PREFECT__CLOUD__AUTH_TOKEN"] == ""
    assert env["PREFECT__CLOUD__TENANT_ID"] == ""  # only given with an API key
    assert env["PREFECT__LOGGING__LOG_TO_CLOUD"] == "true"
    assert env["PREFECT__CONTEXT__IMAGE"] == "prefecthq/prefect:1.4.1" == spec.image
    assert env["RC"] == "1"


def test_a_docker_api_address_can_be_overridden_by_agent_env():
    config = AgentConfig(platform=DockerSettings(), env_vars={"PREFECT__CLOUD__API": "http://me"})
    spec = build_launch_spec(run(core_version="1.4.1"), config, tenant_id=None)
    assert spec.environment({"PREFECT__CLOUD__API": "http://rewritten"})["PREFECT__CLOUD__API"] == (
        "http://me"
    )


def test_with_a_key_the_tenant_and_key_are_given_but_never_shown():
    config = AgentConfig(api_key="sk-secret", platform=KubernetesSettings())
    spec = build_launch_spec(run(), config, tenant_id=TENANT)
    env = spec.environment()
    assert env["PREFECT__CLOUD__API_KEY"] == "sk-secret"
    assert env["PREFECT__CLOUD__TENANT_ID"] == TENANT
    assert "sk-secret" not in repr(spec)


env_names = st.sampled_from(
    [
        "A",
        "B",
        SEND_LOGS,
        "PREFECT__CONTEXT__FLOW_RUN_ID",
        "PREFECT__LOGGING__LEVEL",
        "PREFECT__BACKEND",
    ]
)
env_maps = st.dictionaries(env_names, st.sampled_from(["true", "false", "x", "y"]), max_size=4)


@given(base=env_maps, agent=env_maps, run_env=env_maps, send_logs=st.booleans())
def test_environment_precedence(base, agent, run_env, send_logs):
    config = AgentConfig(env_vars=agent, send_flow_run_logs=send_logs)
    spec = build_launch_spec(run(run_config=LocalRun(env=run_env)), config, tenant_id=None)
    env = spec.environment(base)
    # built-ins always win
    assert env["PREFECT__CONTEXT__FLOW_RUN_ID"] == "fr-1"
    assert env["PREFECT__BACKEND"] == "server"
    # run config env beats agent env beats base, for ordinary names
    for name in ("A", "B"):
        expected = run_env.get(name, agent.get(name, base.get(name)))
        assert env.get(name) == expected
    # the logging level: the agent's unless --env or the run config set it
    level = run_env.get("PREFECT__LOGGING__LEVEL", agent.get("PREFECT__LOGGING__LEVEL", "INFO"))
    assert env["PREFECT__LOGGING__LEVEL"] == level
    # a run may turn flow-run logs off, never on against the agent
    if not send_logs:
        assert env[SEND_LOGS] == "false"
    else:
        assert env[SEND_LOGS] == run_env.get(
            SEND_LOGS, agent.get(SEND_LOGS, base.get(SEND_LOGS, "true"))
        )


def test_incompatible_run_config_is_a_launch_error():
    with pytest.raises(IncompatibleRunConfig):
        build_launch_spec(run(run_config=KubernetesRun()), AgentConfig(), tenant_id=None)


def test_local_agents_refuse_docker_storage():
    with pytest.raises(LaunchError, match="Docker storage"):
        build_launch_spec(run(storage_type="Docker"), AgentConfig(), tenant_id=None)


def test_commands():
    assert default_command("1.4.1") == ("prefect", "execute", "flow-run")
    assert default_command("0.12.6") == ("prefect", "execute", "cloud-flow")
    assert default_command(None) == ("prefect", "execute", "flow-run")
    spec = build_launch_spec(
        run(), AgentConfig(), tenant_id=None, default_command_prefix=("/usr/bin/python3", "-m")
    )
    assert spec.command == ("/usr/bin/python3", "-m", "prefect", "execute", "flow-run")
    custom = build_launch_spec(
        run(),
        AgentConfig(flow_run_command="my-exec --fast"),
        tenant_id=None,
        default_command_prefix=("/usr/bin/python3", "-m"),
    )
    assert custom.command == ("my-exec", "--fast")


def test_image_precedence():
    assert default_image("1.4.1+12.gabc") == "prefecthq/prefect:1.4.1"
    assert default_image(None) == "prefecthq/prefect:latest"
    stored = storage_image_name("reg.io/org", "img", "t1")
    assert stored == "reg.io/org/img:t1"
    assert flow_image(run(storage_image=stored), "my/img:2") == stored
    assert flow_image(run(), "my/img:2", "template:1") == "my/img:2"
    assert flow_image(run(), None, "template:1") == "template:1"
    assert flow_image(run(core_version="1.2.0"), None) == "prefecthq/prefect:1.2.0"


def test_a_local_run_never_inherits_an_api_key_the_agent_does_not_have():
    # Prefect 1.4.1 removes both variables when the agent has no key, whatever set them.
    config = AgentConfig(env_vars={"PREFECT__CLOUD__TENANT_ID": "from --env"})
    spec = build_launch_spec(run(run_config=LocalRun(env={"DROP": None})), config, tenant_id=None)
    env = spec.environment({"PREFECT__CLOUD__API_KEY": "inherited", "DROP": "inherited"})
    assert "PREFECT__CLOUD__API_KEY" not in env
    assert "PREFECT__CLOUD__TENANT_ID" not in env
    assert "DROP" not in env
    keyed = build_launch_spec(run(), attrs.evolve(config, api_key="k"), tenant_id=TENANT)
    assert keyed.environment({})["PREFECT__CLOUD__API_KEY"] == "k"
    assert keyed.environment({})["PREFECT__CLOUD__TENANT_ID"] == TENANT
