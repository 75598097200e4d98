"""End to end on the local agent's platform, with real subprocesses: every default and fully
populated run config a local agent runs, as Prefect 1.4.1 registers it, is read by the GraphQL
adapter, launched, and runs with the environment its run config asks for."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from prefect_agent.adapters.local.platform import LocalPlatform
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.domain.outcomes import InfrastructureOutcome
from tests.polling import eventually
from tests.prefect1 import cases
from tests.prefect1.ours import read_row
from tests.prefect1.venv import Prefect1

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POSIX shell")


@pytest.fixture(scope="module")
def rows(prefect1: Prefect1) -> list[tuple[str, dict[str, Any]]]:
    return cases.e2e_rows(prefect1, "local")


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[LocalPlatform]:
    settings = LocalSettings(state_dir=str(tmp_path / "state"), hostname_label=False)
    platform = LocalPlatform.from_config(AgentConfig(platform=settings))
    yield platform
    platform.close()


def test_every_default_and_full_run_config_runs_on_the_local_agent(
    rows: list[tuple[str, dict[str, Any]]], platform: LocalPlatform
) -> None:
    names = {}
    for name, row in rows:
        run = read_row(row)
        config = AgentConfig(
            platform=LocalSettings(hostname_label=False),
            env_vars={"GONE": "set by the agent"},
            flow_run_command=("sh", "-c", cases.env_check(row)),
        )
        launched = platform.launch(run, build_launch_spec(run, config, tenant_id=None))
        assert launched.run_id == run.id
        names[run.id] = name
    seen: dict[str, InfrastructureOutcome] = {}

    def all_ended() -> bool:
        seen.update((o.run_id, o) for o in platform.outcomes())
        return set(seen) == set(names)

    eventually(all_ended, "every run's process to exit", 30)
    failed = {names[r]: attrs.asdict(o) for r, o in seen.items() if not o.succeeded}
    assert not failed, failed
    assert {name for name, _ in rows} == {
        "UniversalRun-default",
        "UniversalRun-full",
        "LocalRun-default",
        "LocalRun-full",
        "no-run-config",
    }
