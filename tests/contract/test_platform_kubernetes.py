"""The Platform contract against KubernetesPlatform, over HTTP to the kmock API emulator.

No controller runs in the emulator: the test plays the Job controller (``JobController``),
creating the pod and setting its final state when the contract asks a run to end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.ports import Platform
from tests.contract.platform_contract import PlatformContract
from tests.kubernetes.emulator import Emulator, JobController, running_emulator

pytest.importorskip("kubernetes")
pytestmark = pytest.mark.kubernetes


class TestKubernetesPlatform(PlatformContract):
    @pytest.fixture
    def emulator(self) -> Iterator[Emulator]:
        with running_emulator() as emulator:
            self._emulator = emulator
            yield emulator

    @pytest.fixture
    def platform(self, emulator: Emulator) -> Iterator[Platform]:
        from prefect_agent.adapters.kubernetes.platform import KubernetesPlatform

        platform = KubernetesPlatform(self.config(), emulator.api_client())
        self.controller = JobController(emulator.api_client())
        yield platform
        platform.close()

    def config(self) -> AgentConfig:
        return AgentConfig(
            name="contract-agent",
            platform=KubernetesSettings(job_sync_interval_seconds=0.05),
        )

    # Not honoured as written: the emulator runs no containers, so these commands only end up
    # in the Job's args. ``finish`` (the test as Job controller) gives the pod the exit code the
    # contract asks for; tests/kubernetes/test_job_on_docker.py runs a real Job container.
    def exit_command(self, code: int) -> Sequence[str]:
        return ("sh", "-c", f"exit {code}")

    def blocking_command(self, run_id: str) -> Sequence[str]:
        return ("sh", "-c", "sleep 3600")

    def release(self, platform: Platform, run_id: str) -> None:
        # No process to release in an emulator: the pod is shown running, and ``finish`` (which
        # the contract calls next) ends it.
        self.controller.run(self.controller.job_of(run_id))

    def finish(self, platform: Platform, run_id: str, code: int) -> None:
        self.controller.finish(self.controller.job_of(run_id), code)

    def restarted(self, platform: Platform) -> Platform:
        from prefect_agent.adapters.kubernetes.platform import KubernetesPlatform

        return KubernetesPlatform(self.config(), self._emulator.api_client())

    def starts(self, platform: Platform, run_id: str) -> int:
        # Without a controller nothing starts; a run started twice would show as two Jobs.
        return len(self.controller.jobs_of(run_id))

    def leftovers(self, platform: Platform, run_id: str) -> int:
        return len(self.controller.jobs_of(run_id)) + len(self.controller.pods_of(run_id))
