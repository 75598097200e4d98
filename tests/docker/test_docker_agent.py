"""The agent's services on DockerPlatform and the real engine: failures end runs Failed with
the reason, an unreachable engine makes the agent claim nothing until it comes back."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prefect_agent.adapters.docker.platform import DockerPlatform
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.errors import PlatformUnavailable
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.run_config import DockerRun
from prefect_agent.services.agent import AgentService
from prefect_agent.testing import FakeClock, InMemoryRunSource
from prefect_agent.testing.executor import InlineExecutor
from tests.docker.conftest import BUSYBOX, remove_agent_containers
from tests.docker.socket_proxy import SocketProxy
from tests.polling import eventually, poll

pytestmark = pytest.mark.docker

DEADLINE = 60.0


@pytest.fixture
def agent_name(docker_engine: Any) -> Iterator[str]:
    name = f"agent-{uuid.uuid4().hex[:10]}"
    yield name
    remove_agent_containers(docker_engine, name)


def make_agent(
    config: AgentConfig, platform: DockerPlatform
) -> tuple[AgentService, InMemoryRunSource]:
    clock = FakeClock()
    source = InMemoryRunSource(clock=clock)
    agent = AgentService(
        config=config, source=source, platform=platform, clock=clock, executor=InlineExecutor()
    )
    agent.register()
    return agent, source


def step_until(agent: AgentService, source: InMemoryRunSource, run_id: str, state: str) -> None:
    def stepped() -> bool:
        agent.step()
        if source.state_of(run_id) == state:
            return True
        # Runs held back while the engine was down wait on the backoff ladder (fake time).
        assert isinstance(agent.clock, FakeClock)
        agent.clock.advance(0.5)
        return False

    if not poll(stepped, DEADLINE, step=0.05):  # the container runs in real time
        raise AssertionError(f"run {run_id} is {source.state_of(run_id)}, not {state}")


@pytest.mark.parametrize(
    ("host_config", "script", "reason"),
    [
        (None, "echo about to fail; exit 3", "exited with code 3"),
        ({"mem_limit": "8m", "memswap_limit": "8m"}, "tail /dev/zero", "OOMKilled"),
    ],
    ids=["exit-3", "oom"],
)
def test_a_failing_container_ends_its_run_failed_with_the_reason(
    agent_name: str, host_config: Any, script: str, reason: str
) -> None:
    config = AgentConfig(
        platform=DockerSettings(), name=agent_name, flow_run_command=("sh", "-c", script)
    )
    platform = DockerPlatform.from_config(config)
    agent, source = make_agent(config, platform)
    run_id = source.add_run(run_config=DockerRun(image=BUSYBOX, host_config=host_config))
    step_until(agent, source, run_id, "Failed")
    assert source.submissions(run_id) == 1
    messages = [log.message for log in source.logs(run_id)]
    assert any(m.startswith("Submitted for execution: Container ID: ") for m in messages)
    assert any(reason in m for m in messages)
    if reason.startswith("exited"):
        assert any("about to fail" in m for m in messages)  # the container's last lines
    platform.close()


@pytest.mark.parametrize(
    ("host_config", "field", "permission"),
    [
        ({"privileged": True}, "host_config.privileged", "privileged"),
        ({"binds": ["/:/host"]}, "host_config.binds", "host-binds"),
        ({"pid_mode": "host"}, "host_config.pid_mode (host)", "host-namespaces"),
        ({"network_mode": "host"}, "host_config.network_mode (host)", "host-namespaces"),
        ({"cap_add": ["SYS_ADMIN"]}, "host_config.cap_add", "capabilities"),
        ({"devices": ["/dev/sda:/dev/sda"]}, "host_config.devices", "devices"),
    ],
)
def test_host_escaping_host_config_fails_only_that_run(
    docker_engine: Any, agent_name: str, host_config: Any, field: str, permission: str
) -> None:
    config = AgentConfig(
        platform=DockerSettings(), name=agent_name, flow_run_command=("sh", "-c", "exit 0")
    )
    platform = DockerPlatform.from_config(config)
    agent, source = make_agent(config, platform)
    hostile = source.add_run(run_config=DockerRun(image=BUSYBOX, host_config=host_config))
    fine = source.add_run(run_config=DockerRun(image=BUSYBOX, host_config={"mem_limit": "64m"}))
    step_until(agent, source, hostile, "Failed")
    step_until(agent, source, fine, "Submitted")
    reason = [log.message for log in source.logs(hostile) if "policy" in log.message]
    assert len(reason) == 1 and "\n" not in reason[0]
    assert f"The run config's {field} is refused" in reason[0]
    assert f"{permission!r} permission in agent.docker.run_host_config_permissions" in reason[0]
    assert not docker_engine.containers.list(
        all=True, filters={"label": f"io.prefect.flow-run-id={hostile}"}
    )
    platform.close()


def test_an_unreachable_engine_claims_nothing_and_the_agent_recovers(
    agent_name: str, tmp_path: Path
) -> None:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        pytest.skip(f"the engine is not on a Unix socket ({host})")
    proxy = SocketProxy(str(tmp_path / "docker.sock"), host.removeprefix("unix://"))
    config = AgentConfig(
        platform=DockerSettings(base_url=proxy.url),
        name=agent_name,
        flow_run_command=("sh", "-c", "exit 0"),
    )
    platform = DockerPlatform.from_config(config)
    agent, source = make_agent(config, platform)
    with pytest.raises(PlatformUnavailable, match=str(tmp_path)):
        platform.check()
    run_id = source.add_run(run_config=DockerRun(image=BUSYBOX))
    agent.step()
    assert source.state_of(run_id) == "Scheduled"
    assert source.submissions(run_id) == 0

    proxy.start()
    try:
        step_until(agent, source, run_id, "Submitted")
        platform.check()
        proxy.stop()
        with pytest.raises(PlatformUnavailable):
            platform.check()
        second = source.add_run(run_config=DockerRun(image=BUSYBOX))
        agent.step()
        assert source.state_of(second) == "Scheduled"
        proxy.start()
        step_until(agent, source, second, "Submitted")
    finally:
        proxy.stop()
        platform.close()


def test_adoption_waits_for_an_engine_that_was_down_at_start(
    agent_name: str, tmp_path: Path, docker_engine: Any
) -> None:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        pytest.skip(f"the engine is not on a Unix socket ({host})")
    config = AgentConfig(
        platform=DockerSettings(), name=agent_name, flow_run_command=("sh", "-c", "exit 3")
    )
    earlier = DockerPlatform.from_config(config)
    _, source = make_agent(config, earlier)
    run_id = source.add_run(run_config=DockerRun(image=BUSYBOX))
    run = source.ready_runs((), source.clock.now()).runs[0]
    earlier.launch(run, build_launch_spec(run, config, tenant_id=None))
    earlier.close()

    proxy = SocketProxy(str(tmp_path / "docker.sock"), host.removeprefix("unix://"))
    restarted = DockerPlatform(DockerSettings(base_url=proxy.url), agent_name=agent_name)
    assert restarted.adopt() == []  # the engine is unreachable: no crash, adopt later
    with pytest.raises(PlatformUnavailable):
        restarted.outcomes()
    proxy.start()
    try:
        outcomes = eventually(
            lambda: [o for o in restarted.outcomes() if o.run_id == run_id],
            "the outcome, once the engine is back",
            DEADLINE,
            step=0.05,
        )
        assert outcomes[0].exit_code == 3
    finally:
        restarted.close()
        proxy.stop()


def test_a_container_printing_the_key_and_failing_leaks_it_nowhere(
    docker_engine: Any, agent_name: str
) -> None:
    from prefect_agent import bootstrap
    from prefect_agent.bootstrap import AdapterOverrides

    key, password = "pcu_docker_leak_0123456789", "hunter2-docker"
    script = 'echo "key=$PREFECT__CLOUD__API_KEY api=$PREFECT__CLOUD__API"; exit 5'
    config = AgentConfig(
        platform=DockerSettings(show_flow_logs=True),
        name=agent_name,
        api=f"http://flows:{password}@127.0.0.1:4200",
        api_key=key,
        flow_run_command=("sh", "-c", script),
    )
    shown: list[str] = []
    platform = DockerPlatform(
        config.platform,  # type: ignore[arg-type]
        agent_name=agent_name,
        write_flow_log=shown.append,
        secrets=config.secrets,
    )
    clock = FakeClock()
    source = InMemoryRunSource(clock=clock)
    agent = bootstrap.build_agent(
        config, AdapterOverrides(source=source, platform=platform, clock=clock)
    )
    agent.register()
    run_id = source.add_run(run_config=DockerRun(image=BUSYBOX))
    step_until(agent, source, run_id, "Failed")
    logs = "\n".join(log.message for log in source.logs(run_id))
    assert "exited with code 5" in logs and "key=********" in logs
    eventually(lambda: any("key=********" in line for line in shown), "the streamed line")
    for text in (logs, "\n".join(shown)):
        assert key not in text and password not in text
    agent.shutdown()
