"""Entry point of the ``prefect`` console script.

The groups import each command module on first use (``groups.LazyGroup``), so a start pays
only for the commands it runs.
"""

from __future__ import annotations

from prefect_agent.cli.groups import prefect


def main() -> None:
    prefect(prog_name="prefect")


__all__ = ["main", "prefect"]
