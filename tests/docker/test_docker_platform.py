"""DockerPlatform on the real engine: environment, labels, volumes, networks, OOM, pulls,
log streaming, vanished containers, removal policy and restart adoption."""

from __future__ import annotations

import http.server
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from prefect_agent.adapters.docker.platform import DockerPlatform
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.errors import LaunchError
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.outcomes import InfrastructureOutcome, Launched
from prefect_agent.domain.run_config import DockerRun
from tests.contract.platform_contract import PlatformContract
from tests.docker.conftest import BUSYBOX, remove_agent_containers
from tests.polling import eventually

pytestmark = pytest.mark.docker

DEADLINE = 60.0


@attrs.define
class Harness:
    """Builds platforms for one test under a unique agent name and launches runs on them."""

    client: Any
    tmp: Path
    agent: str = attrs.field(factory=lambda: f"test-{uuid.uuid4().hex[:10]}")
    platforms: list[DockerPlatform] = attrs.field(factory=list)
    flow_log: list[str] = attrs.field(factory=list)

    def config(self, **settings: Any) -> AgentConfig:
        env = settings.pop("env_vars", {})
        api = settings.pop("api", "http://localhost:4200")
        return AgentConfig(
            platform=DockerSettings(**settings), name=self.agent, env_vars=env, api=api
        )

    def platform(self, config: AgentConfig | None = None, **settings: Any) -> DockerPlatform:
        config = config or self.config(**settings)
        assert isinstance(config.platform, DockerSettings)
        platform = DockerPlatform(
            config.platform,
            agent_name=config.name,
            volume_base_dir=str(self.tmp),
            write_flow_log=self.flow_log.append,
        )
        self.platforms.append(platform)
        return platform

    def run(self, **run_config: Any) -> FlowRun:
        """A Submitted run (as the contract suite makes them) with these DockerRun fields."""
        run_config.setdefault("image", BUSYBOX)
        return attrs.evolve(PlatformContract().new_run(), run_config=DockerRun(**run_config))

    def launch(
        self, platform: DockerPlatform, run: FlowRun, script: str, config: AgentConfig | None = None
    ) -> Launched:
        base = config or self.config()
        command = attrs.evolve(base, flow_run_command=("sh", "-c", script))
        return platform.launch(run, build_launch_spec(run, command, tenant_id=None))

    def container(self, run: FlowRun) -> Any:
        found = self.client.containers.list(
            all=True, filters={"label": f"io.prefect.flow-run-id={run.id}"}
        )
        assert len(found) == 1, found
        return found[0]


@pytest.fixture
def harness(docker_engine: Any, tmp_path: Path) -> Iterator[Harness]:
    h = Harness(docker_engine, tmp_path)
    yield h
    for platform in h.platforms:
        platform.close()
    remove_agent_containers(docker_engine, h.agent)


_SEEN: weakref.WeakKeyDictionary[DockerPlatform, list[InfrastructureOutcome]] = (
    weakref.WeakKeyDictionary()
)
"""Outcomes read from each platform: one read may bring those of several runs."""


def outcome_of(
    platform: DockerPlatform, run: FlowRun, *, acknowledge: bool = True
) -> InfrastructureOutcome:
    """The run's outcome, acknowledged as the agent's monitor does once the API has it."""
    seen = _SEEN.setdefault(platform, [])

    def ready() -> InfrastructureOutcome | None:
        seen.extend(platform.outcomes())
        return next((o for o in seen if o.run_id == run.id), None)

    outcome = eventually(ready, f"the outcome of run {run.id}", DEADLINE)
    if acknowledge:
        platform.acknowledge(run.id)
    return outcome


def env_file(tmp: Path) -> dict[str, str]:
    lines = (tmp / "out" / "env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_the_container_gets_the_run_environment_with_the_api_rewritten(
    harness: Harness,
) -> None:
    (harness.tmp / "out").mkdir()
    config = harness.config(
        volumes=["./out:/out"],
        env_vars={"AGENT_VAR": "x", "PREFECT__CLOUD__USE_LOCAL_SECRETS": "t"},
    )
    platform = harness.platform(config)
    run = harness.run(env={"RC_VAR": "y"})
    harness.launch(platform, run, "env > /out/env", config)
    assert outcome_of(platform, run).succeeded
    env = env_file(harness.tmp)
    assert env["PREFECT__CONTEXT__FLOW_RUN_ID"] == run.id
    assert env["PREFECT__CONTEXT__FLOW_ID"] == run.flow_id
    assert env["PREFECT__CONTEXT__IMAGE"] == BUSYBOX
    assert env["PREFECT__CLOUD__API"] == "http://host.docker.internal:4200"
    assert env["AGENT_VAR"] == "x" and env["RC_VAR"] == "y"
    assert env["PREFECT__CLOUD__USE_LOCAL_SECRETS"] == "false"  # built-ins win over --env


def test_env_overrides_the_container_api_address(harness: Harness) -> None:
    (harness.tmp / "out").mkdir()
    config = harness.config(
        volumes=["./out:/out"], env_vars={"PREFECT__CLOUD__API": "http://10.1.2.3:4200"}
    )
    platform = harness.platform(config)
    run = harness.run()
    harness.launch(platform, run, "env > /out/env", config)
    assert outcome_of(platform, run).succeeded
    assert env_file(harness.tmp)["PREFECT__CLOUD__API"] == "http://10.1.2.3:4200"


def test_containers_are_named_and_labelled_from_the_run(harness: Harness) -> None:
    platform = harness.platform(container_removal="never")
    run = harness.run()
    launched = harness.launch(platform, run, "exit 0")
    assert outcome_of(platform, run).succeeded
    container = harness.container(run)
    assert container.name == f"prefect-{run.id}"
    assert launched.info == f"Container ID: {container.id[:12]} ({container.name})"
    assert container.labels["io.prefect.flow-run-id"] == run.id
    assert container.labels["io.prefect.flow-id"] == run.flow_id
    assert container.labels["io.prefect.flow-name"] == run.flow_name
    assert container.labels["io.prefect.agent"] == harness.agent


def test_exit_3_is_a_failure_with_the_code_and_the_last_lines(harness: Harness) -> None:
    platform = harness.platform()
    run = harness.run()
    harness.launch(platform, run, "for i in 1 2 3 4 5; do echo line $i; done; exit 3")
    outcome = outcome_of(platform, run, acknowledge=False)
    assert not outcome.succeeded
    assert outcome.exit_code == 3
    assert outcome.reason == f"Container prefect-{run.id} exited with code 3"
    assert outcome.details[-1] == "line 5"
    # The container is the verdict: kept until the agent says the API has the failure, then
    # removed (container_removal "always").
    assert harness.client.containers.list(all=True, filters={"name": f"prefect-{run.id}"})
    platform.acknowledge(run.id)
    assert not harness.client.containers.list(all=True, filters={"name": f"prefect-{run.id}"})


def test_stop_sends_sigterm_then_sigkill_after_the_grace_period(harness: Harness) -> None:
    """A container that ignores SIGTERM (busybox sleep as PID 1 does) is killed once
    ``stop_grace_seconds`` passed, and removed once its end was acknowledged."""
    platform = harness.platform(harness.config(stop_grace_seconds=1))
    run = harness.run()
    harness.launch(platform, run, "sleep 600")
    began = time.monotonic()
    what = platform.stop(run.id)
    assert what == f"container prefect-{run.id} (SIGTERM, then SIGKILL after 1 s if still running)"
    outcome = outcome_of(platform, run)
    assert time.monotonic() - began >= 1.0
    assert outcome.exit_code == 137
    assert not harness.client.containers.list(all=True, filters={"name": f"prefect-{run.id}"})


def test_an_oom_killed_container_fails_its_run_with_that_reason(harness: Harness) -> None:
    platform = harness.platform()
    run = harness.run(host_config={"mem_limit": "8m", "memswap_limit": "8m"})
    harness.launch(platform, run, "tail /dev/zero")
    outcome = outcome_of(platform, run)
    assert not outcome.succeeded
    assert "OOMKilled" in outcome.reason
    assert "memory limit 8 MiB" in outcome.reason
    assert outcome.exit_code == 137


def test_on_success_removal_keeps_failed_containers(harness: Harness) -> None:
    platform = harness.platform(container_removal="on-success")
    ok, bad = harness.run(), harness.run()
    harness.launch(platform, ok, "exit 0")
    harness.launch(platform, bad, "exit 1")
    assert outcome_of(platform, ok).succeeded
    assert not outcome_of(platform, bad).succeeded
    assert harness.container(bad).status == "exited"
    assert not harness.client.containers.list(all=True, filters={"name": f"prefect-{ok.id}"})


def test_bind_named_and_relative_volumes(harness: Harness) -> None:
    (harness.tmp / "data").mkdir()
    (harness.tmp / "data" / "in.txt").write_text("from the host")
    volume = f"prefect-test-{uuid.uuid4().hex[:8]}"
    config = harness.config(volumes=["./data:/data", f"{volume}:/cache"])
    platform = harness.platform(config)
    run = harness.run()
    try:
        harness.launch(
            platform, run, "cat /data/in.txt > /data/out.txt && echo kept > /cache/f", config
        )
        assert outcome_of(platform, run).succeeded
        assert (harness.tmp / "data" / "out.txt").read_text().strip() == "from the host"
        created = harness.client.volumes.get(volume)
        assert created.attrs["Labels"]["io.prefect.created-by"] == harness.agent
        reader = harness.run()
        harness.launch(platform, reader, "grep -q kept /cache/f", config)
        assert outcome_of(platform, reader).succeeded
    finally:
        remove_agent_containers(harness.client, harness.agent)
        harness.client.volumes.get(volume).remove(force=True)


def test_a_run_host_config_keeps_the_agent_volumes(harness: Harness) -> None:
    for name in ("agent", "run"):
        (harness.tmp / name).mkdir()
        (harness.tmp / name / "f").write_text(name)
    config = harness.config(volumes=["./agent:/agent"], run_host_config_permissions=["host-binds"])
    platform = harness.platform(config)
    run = harness.run(host_config={"binds": [f"{harness.tmp / 'run'}:/run-data:ro"]})
    harness.launch(platform, run, "grep -q agent /agent/f && grep -q run /run-data/f", config)
    assert outcome_of(platform, run).succeeded


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from the host"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_network_host_reaches_a_server_on_the_host_loopback(harness: Harness) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        (harness.tmp / "out").mkdir()
        config = harness.config(
            networks=["host"], volumes=["./out:/out"], api=f"http://127.0.0.1:{port}"
        )
        platform = harness.platform(config)
        run = harness.run()
        harness.launch(
            platform,
            run,
            'env > /out/env; wget -q -O /out/body "$PREFECT__CLOUD__API/x"',
            config,
        )
        assert outcome_of(platform, run).succeeded
        assert (harness.tmp / "out" / "body").read_text() == "hello from the host"
        # On the host network the loopback address is not rewritten.
        assert env_file(harness.tmp)["PREFECT__CLOUD__API"] == f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def test_show_flow_logs_prefixes_lines_with_the_run_name(harness: Harness) -> None:
    platform = harness.platform(show_flow_logs=True)
    run = harness.run()
    harness.launch(platform, run, "echo first; echo second")
    assert outcome_of(platform, run).succeeded
    eventually(lambda: f"[{run.name}] second" in harness.flow_log, "the streamed lines", DEADLINE)
    assert harness.flow_log.index(f"[{run.name}] first") < harness.flow_log.index(
        f"[{run.name}] second"
    )
    eventually(lambda: not platform._logs.active(), "the streaming thread to end", DEADLINE)


def test_a_vanished_container_is_a_failure(harness: Harness) -> None:
    platform = harness.platform()
    run = harness.run()
    harness.launch(platform, run, "sleep 60")
    harness.container(run).remove(force=True)
    outcome = outcome_of(platform, run)
    assert not outcome.succeeded
    assert "disappeared" in outcome.reason


def test_a_restarted_platform_reports_containers_that_ended_while_it_was_down(
    harness: Harness,
) -> None:
    first = harness.platform()
    run = harness.run()
    harness.launch(first, run, "exit 3")
    eventually(lambda: harness.container(run).wait(timeout=30) is not None, "the exit", DEADLINE)
    first.close()
    successor = harness.platform()
    assert run.id in successor.adopt()
    outcome = outcome_of(successor, run)
    assert outcome.exit_code == 3


def test_a_container_created_but_never_started_is_started_on_adoption(harness: Harness) -> None:
    platform = harness.platform()
    run = harness.run()
    harness.client.containers.create(
        BUSYBOX,
        ["true"],
        name=f"prefect-{run.id}",
        labels={"io.prefect.flow-run-id": run.id, "io.prefect.agent": harness.agent},
    )
    assert platform.adopt() == [run.id]
    assert outcome_of(platform, run).succeeded


def test_stopping_a_container_that_never_started_removes_it(harness: Harness) -> None:
    """A run cancelled before its flow started (its container created, not yet started)."""
    platform = harness.platform()
    run = harness.run()
    harness.client.containers.create(
        BUSYBOX,
        ["true"],
        name=f"prefect-{run.id}",
        labels={"io.prefect.flow-run-id": run.id, "io.prefect.agent": harness.agent},
    )
    what = platform.stop(run.id)
    assert what == f"container prefect-{run.id}, which had not started, and removed it"
    assert not harness.client.containers.list(all=True, filters={"name": f"prefect-{run.id}"})
    assert platform.stop(run.id) == ""


def test_concurrent_launches_of_one_run_start_one_container(harness: Harness) -> None:
    (harness.tmp / "gate").mkdir()
    config = harness.config(volumes=["./gate:/gate:ro"])
    platforms = [harness.platform(config) for _ in range(4)]
    run = harness.run()
    results: list[Launched] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(platforms))

    def launch(platform: DockerPlatform) -> None:
        barrier.wait()
        try:
            # Blocks until released, so every launch races a live container.
            script = "until [ -e /gate/open ]; do sleep 0.05; done"
            results.append(harness.launch(platform, run, script, config))
        except Exception as exc:  # reported below with its message
            errors.append(exc)

    threads = [threading.Thread(target=launch, args=(p,)) for p in platforms]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, [repr(e) for e in errors]
    assert len(results) == 4
    assert len({r.info.split()[2] for r in results}) == 1  # one container ID
    harness.container(run)  # exactly one
    (harness.tmp / "gate" / "open").touch()
    assert outcome_of(platforms[0], run).succeeded


def test_a_registry_outside_the_allow_list_fails_the_launch(harness: Harness) -> None:
    platform = harness.platform(reg_allow_list=["docker.io"])
    run = harness.run(image="ghcr.io/acme/flows:1")
    with pytest.raises(LaunchError, match=r"registry ghcr\.io, which is not in the agent's"):
        harness.launch(platform, run, "true")


def test_prefect_1_allow_lists_name_docker_hub_organisations(harness: Harness) -> None:
    # Prefect 1.4.1's reg_allow_list=["prefecthq"] compared the first path segment: here
    # such an entry means that Docker Hub organisation, and the list applies to pulls.
    allowed = harness.platform(reg_allow_list=["prefecthq", "local"])
    run = harness.run(image=BUSYBOX)  # local/busybox: its pull fails, the engine's copy runs
    harness.launch(allowed, run, "true")
    refused = harness.platform(reg_allow_list=["prefecthq"])
    with pytest.raises(LaunchError, match=r"registry docker\.io, which is not in the agent's"):
        harness.launch(refused, harness.run(image=BUSYBOX), "true")
    # Nothing is pulled under IfNotPresent for an image the engine has: nothing to check.
    harness.launch(
        harness.platform(reg_allow_list=["prefecthq"], pull_policy="IfNotPresent"),
        harness.run(image=BUSYBOX),
        "true",
    )


def test_images_with_a_slash_are_pulled_before_every_run_as_in_prefect_1(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    platform = harness.platform()  # pull_policy Prefect1, the default
    with caplog.at_level("INFO", logger="prefect_agent.adapters.docker.platform"):
        harness.launch(platform, harness.run(image=BUSYBOX), "true")
    pulls = [r.getMessage() for r in caplog.records]
    assert f"Pulling image {BUSYBOX}..." in pulls
    # No registry answers here: the copy already on the engine runs, with a warning.
    assert any(
        m.startswith(f"Could not pull image {BUSYBOX}") and m.endswith("already on the engine")
        for m in pulls
    )


def test_images_without_a_slash_are_never_pulled_as_in_prefect_1(harness: Harness) -> None:
    platform = harness.platform()
    run = harness.run(image=f"no-such-image-{uuid.uuid4().hex[:8]}:1")
    with pytest.raises(LaunchError, match="images without '/' are never pulled"):
        harness.launch(platform, run, "true")


def test_a_failed_pull_fails_the_launch_with_the_engine_message(harness: Harness) -> None:
    platform = harness.platform()
    run = harness.run(image="registry.invalid/acme/flows:1")
    with pytest.raises(LaunchError) as caught:
        harness.launch(platform, run, "true")
    assert caught.value.reason.startswith("Could not pull image registry.invalid/acme/flows:1: ")
    assert "registry.invalid" in caught.value.reason.split(": ", 1)[1]


def test_no_pull_with_a_missing_image_fails_clearly(harness: Harness) -> None:
    platform = harness.platform(no_pull=True)
    run = harness.run(image="local/not-built-here:1")
    with pytest.raises(LaunchError, match="not on the Docker engine and pulling is disabled"):
        harness.launch(platform, run, "true")


def test_a_bad_host_config_option_fails_the_launch(harness: Harness) -> None:
    platform = harness.platform()
    run = harness.run(host_config={"no_such_option": 1})
    with pytest.raises(LaunchError, match=r"invalid host_config.*no_such_option"):
        harness.launch(platform, run, "true")


def test_user_networks_are_joined_and_ports_exposed(harness: Harness) -> None:
    names = [f"prefect-test-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    networks = [harness.client.networks.create(n, internal=True) for n in names]
    try:
        platform = harness.platform(networks=names, container_removal="never")
        run = harness.run(ports=[8080])
        harness.launch(platform, run, "exit 0")
        assert outcome_of(platform, run).succeeded
        container = harness.container(run)
        assert set(container.attrs["NetworkSettings"]["Networks"]) == set(names)
        assert "8080/tcp" in container.attrs["Config"]["ExposedPorts"]
    finally:
        remove_agent_containers(harness.client, harness.agent)
        for network in networks:
            network.remove()


def test_the_api_key_reaches_the_container_environment_only(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    key = "pa-secret-key-0123456789"
    (harness.tmp / "out").mkdir()
    config = attrs.evolve(harness.config(volumes=["./out:/out"]), api_key=key)
    platform = harness.platform(config)
    run = harness.run()
    with caplog.at_level("DEBUG"):
        launched = harness.launch(platform, run, "env > /out/env; exit 3", config)
        outcome = outcome_of(platform, run)
    assert env_file(harness.tmp)["PREFECT__CLOUD__API_KEY"] == key
    assert key not in launched.info
    assert key not in outcome.reason and all(key not in line for line in outcome.details)
    assert key not in caplog.text
