"""The kinds of platform an agent launches runs on, with what each accepts."""

from __future__ import annotations

import enum

from prefect_agent.domain.ecs_run_config import ECSRun
from prefect_agent.domain.run_config import DockerRun, KubernetesRun, LocalRun
from prefect_agent.domain.vertex_run_config import VertexRun

PlatformRunConfigType = (
    type[LocalRun] | type[DockerRun] | type[KubernetesRun] | type[ECSRun] | type[VertexRun]
)


class PlatformKind(enum.Enum):
    LOCAL = "local"
    DOCKER = "docker"
    KUBERNETES = "kubernetes"
    ECS = "ecs"
    VERTEX = "vertex"

    @property
    def agent_type(self) -> str:
        """The agent type registered with the API, as Prefect 1 names it (``LocalAgent``)."""
        return {
            "local": "LocalAgent",
            "docker": "DockerAgent",
            "kubernetes": "KubernetesAgent",
            "ecs": "ECSAgent",
            "vertex": "VertexAgent",
        }[self.value]

    @property
    def run_config_type(self) -> PlatformRunConfigType:
        return {
            PlatformKind.LOCAL: LocalRun,
            PlatformKind.DOCKER: DockerRun,
            PlatformKind.KUBERNETES: KubernetesRun,
            PlatformKind.ECS: ECSRun,
            PlatformKind.VERTEX: VertexRun,
        }[self]

    @property
    def runs_containers(self) -> bool:
        return self is not PlatformKind.LOCAL
