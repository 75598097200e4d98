"""``prefect agent <type> explain RUN_ID`` against the in-memory source."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from prefect_agent.bootstrap import AdapterOverrides
from prefect_agent.cli.main import prefect
from prefect_agent.cli.ops_commands import API_ERROR_STATUS, NOT_PICKED_STATUS
from prefect_agent.domain.run_config import DockerRun
from prefect_agent.testing import FakeClock, InMemoryRunSource


@pytest.fixture
def env(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    # No user config file and no PREFECT__ variables from the machine running the tests.
    for name in list(__import__("os").environ):
        if name.startswith("PREFECT__"):
            monkeypatch.delenv(name)
    return {"PREFECT__USER_CONFIG_PATH": f"{tmp_path}/none.toml"}


def run(args: list[str], source: InMemoryRunSource, env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(
        prefect, args, obj=AdapterOverrides(source=source, clock=source.clock), env=env
    )
    return result.exit_code, result.output


def test_explains_a_run_this_agent_would_take(env: dict[str, str]) -> None:
    source = InMemoryRunSource(clock=FakeClock())
    run_id = source.add_run(labels=["dev"])
    code, out = run(
        ["agent", "local", "explain", run_id, "-l", "dev", "--no-hostname-label"], source, env
    )
    assert code == 0, out
    assert out.splitlines()[0] == f"Flow run {run_id}: this agent would launch it."
    assert "[ok ] labels: every run label ['dev'] is among the agent's ['dev']" in out


def test_explains_missing_labels_with_exit_status(env: dict[str, str]) -> None:
    source = InMemoryRunSource(clock=FakeClock())
    run_id = source.add_run(labels=["dev", "gpu"], run_config=DockerRun())
    code, out = run(["agent", "docker", "explain", run_id, "--label", "dev"], source, env)
    assert code == NOT_PICKED_STATUS
    assert "would not pick it up" in out
    assert "the run needs ['gpu'] which the agent lacks" in out


def test_unknown_run_is_a_one_line_error(env: dict[str, str]) -> None:
    source = InMemoryRunSource(clock=FakeClock())
    code, out = run(["agent", "local", "explain", "nope", "--no-hostname-label"], source, env)
    assert code == API_ERROR_STATUS
    assert "Error: could not read flow run nope from http://localhost:4200" in out


def test_bad_flags_are_config_errors(env: dict[str, str]) -> None:
    source = InMemoryRunSource(clock=FakeClock())
    code, out = run(["agent", "local", "explain", "x", "--backlog-policy", "maybe"], source, env)
    assert code == 2
    assert "backlog_policy" in out
