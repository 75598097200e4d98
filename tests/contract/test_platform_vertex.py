"""The Platform contract against VertexPlatform: the official client (google-cloud-aiplatform,
REST transport) over HTTP to a local stand-in of the Vertex AI REST methods it uses.

No job runs there: ``finish`` ends a job as Vertex AI reports it (SUCCEEDED, or FAILED with
the replica's exit status in the error message).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

pytest.importorskip("google.cloud.aiplatform_v1")

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.vertex_settings import VertexSettings
from prefect_agent.ports import Platform
from tests.contract.platform_contract import PlatformContract
from tests.vertex.vertex_api import VertexApi, running_vertex_api

PROJECT = "contract-project"


def client_for(api: VertexApi):  # type: ignore[no-untyped-def]
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.aiplatform_v1.services.job_service import JobServiceClient

    return JobServiceClient(
        credentials=AnonymousCredentials(),
        transport="rest",
        client_options={"api_endpoint": api.url},
    )


class TestVertexPlatform(PlatformContract):
    @pytest.fixture
    def platform(self) -> Iterator[Platform]:
        from prefect_agent.adapters.vertex.platform import VertexPlatform

        with running_vertex_api() as api:
            self.api = api
            platform = VertexPlatform(self.config(), client_for(api), PROJECT)
            yield platform
            platform.close()

    def config(self) -> AgentConfig:
        return AgentConfig(
            name="contract-agent", platform=VertexSettings(job_sync_interval_seconds=0.05)
        )

    # Nothing runs: the commands only end up in the job's container spec, and ``finish``
    # reports the job as Vertex AI would once its replica exited.
    def exit_command(self, code: int) -> Sequence[str]:
        return ("sh", "-c", f"exit {code}")

    def blocking_command(self, run_id: str) -> Sequence[str]:
        return ("sh", "-c", "sleep 3600")

    def release(self, platform: Platform, run_id: str) -> None:
        """Nothing to release: ``finish``, which the contract calls next, ends the job."""

    def finish(self, platform: Platform, run_id: str, code: int) -> None:
        name = self.api.job_of(run_id)["name"]
        if code == 0:
            self.api.finish(name, "JOB_STATE_SUCCEEDED")
        else:
            self.api.finish(
                name,
                "JOB_STATE_FAILED",
                f"The replica workerpool0-0 exited with a non-zero status of {code}.",
                code=3,
            )

    def restarted(self, platform: Platform) -> Platform:
        from prefect_agent.adapters.vertex.platform import VertexPlatform

        return VertexPlatform(self.config(), client_for(self.api), PROJECT)

    def starts(self, platform: Platform, run_id: str) -> int:
        return len(self.api.jobs_of(run_id))

    def leftovers(self, platform: Platform, run_id: str) -> int:
        # An ended job is deleted once its outcome is acknowledged.
        return len(self.api.jobs_of(run_id))
