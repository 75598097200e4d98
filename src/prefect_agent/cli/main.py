"""Entry points: ``prefect-agent`` (every command of ours) and ``prefect`` (the drop-in).

``prefect`` shares its name with Prefect core's command line: when Prefect core is installed
it keeps ``agent`` and hands everything else to Prefect core (see ``prefect_core``).
The groups import each command module on first use (``groups.LazyGroup``), so a start pays
only for the commands it runs.
"""

from __future__ import annotations

import sys

from prefect_agent.cli import prefect_core
from prefect_agent.cli.groups import prefect


def main() -> None:
    """The ``prefect`` console script."""
    args = sys.argv[1:]
    if not prefect_core.is_ours(args):
        try:
            script = prefect_core.console_script()
        except prefect_core.PrefectCoreUnavailable as error:
            error.show()
            sys.exit(error.exit_code)
        if script is not None:
            prefect_core.hand_off(script, args)
    prefect(prog_name="prefect")


def prefect_agent_main() -> None:
    """The ``prefect-agent`` console script (and ``python -m prefect_agent``)."""
    prefect(prog_name="prefect-agent")


__all__ = ["main", "prefect", "prefect_agent_main"]
