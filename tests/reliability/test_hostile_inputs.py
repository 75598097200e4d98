"""Hostile inputs to the agent: run configs (made by Prefect 1.4.1) that ask for the host
(hostPath, privileged pods, host namespaces, another service account, agent files, cloud
metadata), templates that drip, bloat or bomb, and a flood of pokes, mixed with ordinary runs
on a Kubernetes agent (kmock emulator) polling the embedded API.

Each hostile run must end Failed with a one-line reason naming its field or limit, every
ordinary run must launch once, the agent must stop within its bounds, and the API key must
appear in no run's logs.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from prefect_agent import bootstrap
from prefect_agent.adapters.graphql.run_source import GraphQLRunSource
from prefect_agent.adapters.health.server import HttpHealthReporter
from prefect_agent.adapters.system.clock import SystemClock
from prefect_agent.bootstrap import AdapterOverrides
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.kubernetes_settings import DEFAULT_RUN_TEMPLATE_URLS, KubernetesSettings
from prefect_agent.server.testing import RunningServer
from tests.kubernetes.emulator import NAMESPACE, JobController, running_emulator
from tests.prefect1.venv import Prefect1
from tests.raw_server import RawServer
from tests.reliability.harness import (
    SECRET,
    CapturedLogs,
    seed_runs,
    states_of,
    tally,
    wait_for_fates,
    wait_until,
)

pytestmark = pytest.mark.kubernetes

from prefect_agent.adapters.kubernetes.job_naming import RUN_ANNOTATION  # noqa: E402
from prefect_agent.adapters.kubernetes.platform import KubernetesPlatform  # noqa: E402

GOOD = 60
DRIPPING = 16
TEMPLATE_TIMEOUT = 1.0
JOB = "apiVersion: batch/v1\nkind: Job\nspec: {template: {spec: {containers: [{name: flow}]}}}\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n" + JOB


def serve_templates(conn: socket.socket, request: bytes, stopped: threading.Event) -> None:
    """/drip: one byte every 50 ms, forever; /bomb: YAML aliases; anything else: 4 MB."""
    path = request.split(b" ", 2)[1].decode()
    if path == "/drip":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        while not stopped.wait(0.05):
            conn.sendall(b"#")
        return
    body = BOMB.encode() if path == "/bomb" else JOB.encode() + b"#" * 4_000_000
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    conn.sendall(body)


@pytest.fixture
def templates() -> Iterator[RawServer]:
    server = RawServer(serve_templates)
    yield server
    server.close()


def run_configs(prefect1: Prefect1, served: str) -> dict[str, Any]:
    """Each hostile KubernetesRun as Prefect 1.4.1 serializes it, with the words its
    refusal must contain."""
    pod = "{'containers': [{'name': 'flow'}]}"
    variants = {
        "good": "KubernetesRun()",
        "drip": f"KubernetesRun(job_template_path='{served}/drip')",
        "bomb": f"KubernetesRun(job_template_path='{served}/bomb')",
        "huge": f"KubernetesRun(job_template_path='{served}/huge')",
        "agent-file": "KubernetesRun(job_template_path='agent:///etc/passwd')",
        "metadata": "KubernetesRun(job_template_path='http://169.254.169.254/latest/meta-data/')",
        "service-account": "KubernetesRun(service_account_name='cluster-admin')",
        "host-path": "KubernetesRun(job_template={'kind': 'Job', 'spec': {'template': {'spec': "
        + pod[:-1]
        + ", 'volumes': [{'name': 'h', 'hostPath': {'path': '/'}}]}}}})",
        "privileged": "KubernetesRun(job_template={'kind': 'Job', 'spec': {'template': {'spec': "
        "{'containers': [{'name': 'flow', 'securityContext': {'privileged': True}}]}}}})",
        "host-network": "KubernetesRun(job_template={'kind': 'Job', 'spec': {'template': {'spec': "
        + pod[:-1]
        + ", 'hostNetwork': True}}}})",
    }
    code = (
        "import json\nfrom prefect.run_configs import KubernetesRun\n"
        "print(json.dumps({"
        + ", ".join(f"{name!r}: {expr}.serialize()" for name, expr in variants.items())
        + "}))"
    )
    configs: dict[str, Any] = prefect1.json_of(code)
    return configs


EXPECTED = {
    "drip": f"could not be read within {TEMPLATE_TIMEOUT:g}s",
    "bomb": "YAML aliases (*name) are not accepted",
    "huge": "larger than 1048576 bytes",
    "agent-file": "outside agent.kubernetes.run_template_dir",
    "metadata": "matches no pattern of agent.kubernetes.run_template_urls",
    "service-account": "service_account_name 'cluster-admin' is refused",
    "host-path": "volumes[0].hostPath is refused",
    "privileged": "securityContext.privileged is refused",
    "host-network": "spec.template.spec.hostNetwork is refused",
}


def test_hostile_run_configs_templates_and_pokes(
    api: RunningServer,
    agent_logs: CapturedLogs,
    prefect1: Prefect1,
    templates: RawServer,
) -> None:
    configs = run_configs(prefect1, templates.url)
    good = seed_runs(api, GOOD, run_config=configs["good"], spread_seconds=3.0)
    hostile = {
        name: seed_runs(api, DRIPPING if name == "drip" else 2, run_config=configs[name])
        for name in EXPECTED
    }
    bad = [run_id for ids in hostile.values() for run_id in ids]
    with running_emulator() as emulator:
        config = AgentConfig(
            name="hostile",
            api=api.url,
            api_key=SECRET,
            labels=("reliability",),
            agent_address="http://127.0.0.1:0",
            prefetch_seconds=1.0,
            shutdown_grace_seconds=10.0,
            platform=KubernetesSettings(
                namespace=NAMESPACE,
                job_template_timeout_seconds=TEMPLATE_TIMEOUT,
                run_template_urls=(*DEFAULT_RUN_TEMPLATE_URLS, f"{templates.url}/*"),
                job_sync_interval_seconds=0.5,
            ),
        )
        clock = SystemClock()
        agent_box: list[Any] = []
        health = HttpHealthReporter.from_config(
            config, wake=lambda: agent_box[0].wake(), now=clock.now, monotonic=clock.monotonic
        )
        platform = KubernetesPlatform(config, emulator.api_client())
        source = GraphQLRunSource.from_config(config)
        agent = bootstrap.build_agent(
            config, AdapterOverrides(source=source, platform=platform, clock=clock, health=health)
        )
        agent_box.append(agent)
        jobs = JobController(emulator.api_client())
        began = time.monotonic()
        health.start()
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        try:
            pokes = Counter(_poke(health.url) for _ in range(300))
            polls_after_pokes = agent.poll_loop.polls
            poke_seconds = time.monotonic() - began

            def launched() -> set[str]:
                return {job["metadata"]["annotations"][RUN_ANNOTATION] for job in jobs.jobs()}

            settled = wait_for_fates(api, good + bad, launched, timeout=90)
            # Stop while dripping fetches are in flight: shutdown waits for their time cap,
            # not for ever (before, 16 dripping runs held every launch thread for good).
            late = seed_runs(api, DRIPPING, run_config=configs["drip"])
            bad += late
            hostile["drip"] += late
            wait_until(lambda: states_of(api, late)["Submitted"] > 0, 30)
        finally:
            stopping = time.monotonic()
            agent.stop()
            thread.join(timeout=60)
            stop_seconds = time.monotonic() - stopping
            health.stop()
            source.close()
        starts = Counter({run_id: 1 for run_id in launched()})
    reasons = {
        name: [log["message"] for log in api.logs(ids[0]) if log["level"] == "ERROR"]
        for name, ids in hostile.items()
    }
    figures = tally(
        api,
        "hostile inputs",
        good + bad,
        starts,
        began=began,
        pokes=dict(pokes),
        polls_during_pokes=polls_after_pokes,
        poke_seconds=round(poke_seconds, 2),
        stop_seconds=round(stop_seconds, 2),
    )
    assert settled, f"good: {states_of(api, good)}, hostile: {states_of(api, bad)}"
    assert not thread.is_alive()
    assert (figures.lost, figures.doubled) == (0, 0), figures
    assert figures.launched_once == GOOD and figures.failed_with_reason == len(bad)
    assert not set(starts) & set(bad)
    for name, expected in EXPECTED.items():
        assert any(expected in message for message in reasons[name]), (name, reasons[name])
        assert all("\n" not in message for message in reasons[name])
    # 300 pokes in well under a second wake the poll loop a handful of times, not 300.
    assert pokes[200] <= 1 + poke_seconds and pokes[429] >= 250
    assert stop_seconds < TEMPLATE_TIMEOUT + 5
    logs = json.dumps([api.logs(run_id) for run_id in good + bad])
    assert SECRET not in logs and "root:x:0:0" not in logs


def _poke(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/api/poke", timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return exc.code
