"""Sharing the ``prefect`` command with Prefect core.

Prefect core (the ``prefect`` distribution) and this package both install a ``prefect``
console script; whichever is installed last owns the file. Ours, when it owns it and Prefect
core is installed too, keeps only ``agent`` and hands every other command line, untouched, to
the console script Prefect core declares, so installing this package never takes a Prefect
command away. ``prefect-agent`` always offers all of ours.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence

import click

PREFECT_CORE = "prefect"
"""Distribution (and top-level package) name of Prefect core."""

OURS = frozenset({"agent"})
"""Top-level commands ours keeps when Prefect core is installed."""

HELP_FOOTER = (
    "\nThis `prefect` comes from prefect-agent: `prefect agent ...` runs prefect-agent's agents,"
    " every other command is Prefect core's.\n`prefect-agent --help` lists all of"
    " prefect-agent's commands (embedded API, run admin, demo)."
)


class PrefectCoreUnavailable(click.ClickException):
    """Prefect core's metadata is there but its command line cannot be loaded."""


def console_script() -> Callable[[], object] | None:
    """Prefect core's ``prefect`` console script, or None when Prefect core is not installed.

    The cheap import-system probe comes first: without Prefect core a start never pays for
    reading distribution metadata.
    """
    if importlib.util.find_spec(PREFECT_CORE) is None:
        return None
    from importlib import metadata

    try:
        scripts = metadata.distribution(PREFECT_CORE).entry_points
    except metadata.PackageNotFoundError:
        return None  # a bare ``prefect`` package on the path, not an installed Prefect core
    found = [e for e in scripts if e.group == "console_scripts" and e.name == PREFECT_CORE]
    if not found:
        return None
    try:
        loaded: Callable[[], object] = found[0].load()
    except Exception as error:  # any failure while importing Prefect core's CLI
        raise PrefectCoreUnavailable(
            f"Prefect core is installed but its command line ({found[0].value}) failed to load:"
            f" {type(error).__name__}: {error}. prefect-agent's own commands stay available as"
            " `prefect-agent`."
        ) from error
    return loaded


def is_ours(args: Sequence[str]) -> bool:
    """Whether this command line belongs to our part of a shared ``prefect``."""
    return bool(args) and args[0] in OURS


def is_top_level_help(args: Sequence[str]) -> bool:
    return not args or args[0] in ("-h", "--help")


def hand_off(script: Callable[[], object], args: Sequence[str]) -> None:
    """Run Prefect core's ``prefect`` exactly as its own console script would."""
    sys.argv = ["prefect", *args]
    try:
        code = script()
    except SystemExit:
        if is_top_level_help(args):
            click.echo(HELP_FOOTER)
        raise
    sys.exit(code if code is None or isinstance(code, int) else str(code))
