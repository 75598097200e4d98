"""The local platform: flow runs as subprocesses of the agent."""

from prefect_agent.adapters.local.platform import LocalPlatform

__all__ = ["LocalPlatform"]
