"""prefect-agent: Prefect 1.x agents rebuilt around ports and adapters.

The facades (``LocalAgent``, ``DockerAgent``, ``KubernetesAgent``, ``ECSAgent``,
``VertexAgent``) are loaded lazily so that
``import prefect_agent`` stays cheap and never pulls in the docker or kubernetes clients.
"""

from __future__ import annotations

from typing import Any

from prefect_agent._version import __version__

_FACADES = {"LocalAgent", "DockerAgent", "KubernetesAgent", "ECSAgent", "VertexAgent"}

__all__ = [
    "DockerAgent",
    "ECSAgent",
    "KubernetesAgent",
    "LocalAgent",
    "VertexAgent",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _FACADES:
        from prefect_agent import facades

        return getattr(facades, name)
    raise AttributeError(f"module 'prefect_agent' has no attribute {name!r}")
