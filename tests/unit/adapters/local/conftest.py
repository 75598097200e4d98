"""Shared pieces of the local platform's tests: a platform in a temporary state directory."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from prefect_agent.adapters.local.platform import LocalPlatform
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import LaunchSpec, build_launch_spec
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.domain.outcomes import InfrastructureOutcome
from tests.polling import DEADLINE, eventually

__all__ = ["DEADLINE", "eventually"]


def new_run(**changes: Any) -> FlowRun:
    run_id = str(uuid.uuid4())
    fields: dict[str, Any] = {
        "id": run_id,
        "version": 1,
        "state": "Submitted",
        "flow_id": "flow-1",
        "name": f"run-{run_id[:6]}",
    }
    fields.update(changes)
    return FlowRun(**fields)


@attrs.define
class Harness:
    """A platform plus the agent config its runs are built with."""

    platform: LocalPlatform
    config: AgentConfig
    output: io.StringIO
    tmp: Path

    def spec(self, run: FlowRun, command: list[str], **config_changes: Any) -> LaunchSpec:
        config = attrs.evolve(self.config, flow_run_command=tuple(command), **config_changes)
        return build_launch_spec(run, config, tenant_id=None)

    def outcome(self, run_id: str) -> InfrastructureOutcome:
        found: list[InfrastructureOutcome] = []

        def probe() -> InfrastructureOutcome | None:
            found.extend(self.platform.outcomes())
            return next((o for o in found if o.run_id == run_id), None)

        return eventually(probe, f"the outcome of {run_id}")


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    output = io.StringIO()
    settings = LocalSettings(state_dir=str(tmp_path / "state"), import_paths=["/opt/lib"])
    config = AgentConfig(platform=settings, labels=["dev"], env_vars={"AGENT_VAR": "x"})
    platform = LocalPlatform(
        state_dir=settings.state_dir or "",
        import_paths=settings.import_paths,
        environment={"PATH": "/usr/bin:/bin", "HOME": "/root", "PYTHONPATH": "/agent/path"},
        output=output,
        show_flow_logs=True,
        stop_grace_seconds=0.3,
    )
    yield Harness(platform=platform, config=config, output=output, tmp=tmp_path)
    platform.close()
