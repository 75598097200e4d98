"""The files `prefect agent ... install` writes keep a stopping agent alive through its drain:
a real supervisord runs the generated configuration here; no kubelet can run here, so the
Kubernetes Deployment is checked for the same rule on its manifest only."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from prefect_agent.cli.main import prefect
from prefect_agent.domain.agent_config import AgentConfig, stop_timeout_seconds
from prefect_agent.server.testing import running_server
from tests.polling import eventually

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
KEY = "install-key-0f3e"


def install(*args: str) -> str:
    result = CliRunner().invoke(prefect, ["agent", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def supervisorctl(conf: Path, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "supervisorctl"), "-c", str(conf), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.stdout + done.stderr


@pytest.mark.skipif(not (BIN / "supervisord").exists(), reason="supervisor is a dev dependency")
def test_supervisord_stops_the_agent_only_after_its_drain(tmp_path: Path) -> None:
    text = install("local", "install", "-l", "dev", "-k", KEY, "--shutdown-grace-seconds", "5")
    assert KEY not in text
    assert f"stopwaitsecs={stop_timeout_seconds(5)}" in text.splitlines()
    conf = tmp_path / "supervisord.conf"
    conf.write_text(text.replace("/tmp/supervisor.sock", str(tmp_path / "supervisor.sock")))
    (tmp_path / "logs").mkdir()
    with running_server(api_key=KEY) as api:
        later = api.create_run(
            labels=["dev"], start_time=datetime.now(timezone.utc) + timedelta(hours=1)
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
        env |= {
            "HOME": str(tmp_path),
            "PATH": f"{BIN}:{env.get('PATH', '')}",
            "PREFECT__CLOUD__API": api.url,
            "PREFECT__CLOUD__API_KEY": KEY,
        }
        supervisord = subprocess.Popen(
            [str(BIN / "supervisord"), "-n", "-c", str(conf),
             "-l", str(tmp_path / "supervisord.log"), "-j", str(tmp_path / "supervisord.pid"),
             "-q", str(tmp_path / "logs")],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            child_log = lambda: "".join(p.read_text() for p in (tmp_path / "logs").glob("*"))  # noqa: E731
            eventually(lambda: "Starting LocalAgent" in child_log(), "the agent to start", 60)
            pid = int(supervisorctl(conf, "pid", "prefect-agent").strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
            assert KEY not in cmdline  # the key went through the environment
            assert "--shutdown-grace-seconds\x005" in cmdline
            assert "prefect-agent: stopped" in supervisorctl(conf, "stop", "prefect-agent")
        finally:
            supervisorctl(conf, "shutdown")
            supervisord.wait(60)
        log = (tmp_path / "supervisord.log").read_text()
        assert "stopped: prefect-agent (exit status 0)" in log, log
        assert "SIGKILL" not in log
        assert "SIGTERM received; draining" in child_log()
        assert "Agent 'agent' stopped" in child_log()  # the drain ran to its end
        assert api.state_of(later) == "Scheduled"  # a drain leaves runs not yet due alone


def test_the_kubernetes_deployment_waits_longer_than_the_agents_drain() -> None:
    manifests = list(yaml.safe_load_all(install("kubernetes", "install")))
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    default_drain = AgentConfig(labels=()).shutdown_grace_seconds
    assert grace == stop_timeout_seconds(default_drain) > default_drain


@pytest.mark.skipif(not os.environ.get("CI"), reason="the dev extra is complete only in CI")
def test_supervisord_is_on_the_path_of_the_dev_environment() -> None:
    # The drain test above must not skip where the dev extra is installed (CI).
    assert shutil.which("supervisord", path=str(BIN))
