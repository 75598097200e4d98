"""What the agent forwards from a run is masked: a run that prints the API key, the tenant id
and the API address with its credentials, then fails, leaks none of them into its logs in the
API or onto the agent's stdout (--show-flow-logs)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from prefect_agent import bootstrap
from prefect_agent.adapters.local.platform import LocalPlatform
from prefect_agent.bootstrap import AdapterOverrides
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.testing import FakeClock, InMemoryRunSource
from tests.polling import eventually

KEY = "pcu_leaky_key_0123456789"
PASSWORD = "hunter2-pw"
TENANT = "6f0e5c1e-6a5c-4a2b-9c39-6b1f1c0b7a11"
SCRIPT = (
    "import os, sys\n"
    "print('key', os.environ['PREFECT__CLOUD__API_KEY'])\n"
    "print('api', os.environ['PREFECT__CLOUD__API'], end='\\r')\n"
    "print('tenant', os.environ['PREFECT__CLOUD__TENANT_ID'])\n"
    "sys.stderr.write('failing now\\n'); sys.exit(4)\n"
)


def test_a_run_that_prints_its_credentials_and_fails_leaks_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = AgentConfig(
        platform=LocalSettings(state_dir=str(tmp_path / "state"), show_flow_logs=True),
        api=f"http://flows:{PASSWORD}@127.0.0.1:4200",
        api_key=KEY,
        tenant_id=TENANT,
        flow_run_command=(sys.executable, "-c", SCRIPT),
    )
    clock = FakeClock(auto_advance=True)
    source = InMemoryRunSource(clock=clock)
    platform = LocalPlatform.from_config(config)
    agent = bootstrap.build_agent(
        config, AdapterOverrides(source=source, platform=platform, clock=clock)
    )
    agent.register()
    run_id = source.add_run()

    def failed() -> bool:
        agent.step()
        return source.state_of(run_id) == "Failed"

    try:
        eventually(failed, "the run failed")
    finally:
        agent.shutdown()
    logs = "\n".join(log.message for log in source.logs(run_id))
    shown = capsys.readouterr().out
    assert "exited with code 4" in logs and "failing now" in logs
    assert "failing now" in shown
    for text in (logs, shown):
        for secret in (KEY, PASSWORD, TENANT):
            assert secret not in text
        assert "key ********" in text and "http://********@127.0.0.1:4200" in text
