"""The kinds of platform an agent launches runs on, with what each accepts."""

from __future__ import annotations

import enum

from prefect_agent.domain.run_config import DockerRun, KubernetesRun, LocalRun


class PlatformKind(enum.Enum):
    LOCAL = "local"
    DOCKER = "docker"
    KUBERNETES = "kubernetes"

    @property
    def agent_type(self) -> str:
        """The agent type registered with the API, as Prefect 1 names it (``LocalAgent``)."""
        return {"local": "LocalAgent", "docker": "DockerAgent", "kubernetes": "KubernetesAgent"}[
            self.value
        ]

    @property
    def run_config_type(self) -> type[LocalRun] | type[DockerRun] | type[KubernetesRun]:
        return {
            PlatformKind.LOCAL: LocalRun,
            PlatformKind.DOCKER: DockerRun,
            PlatformKind.KUBERNETES: KubernetesRun,
        }[self]

    @property
    def runs_containers(self) -> bool:
        return self is not PlatformKind.LOCAL
