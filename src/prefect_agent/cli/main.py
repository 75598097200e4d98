"""Entry point of the ``prefect`` console script: the groups plus every command module."""

from __future__ import annotations

# Importing a command module attaches its commands to the groups (each module owns its own).
from prefect_agent.cli import (  # noqa: F401
    agent_commands,
    demo_commands,
    kubernetes_install,
    ops_commands,
    run_commands,
    server_commands,
)
from prefect_agent.cli.groups import prefect


def main() -> None:
    prefect(prog_name="prefect")


__all__ = ["main", "prefect"]
