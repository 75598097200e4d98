"""How a command ends on a configuration error: one line on stderr, exit status 2."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from prefect_agent.domain.errors import ConfigError

CONFIG_ERROR_STATUS = 2


def fail(err: ConfigError) -> NoReturn:
    """One line on stderr and exit status 2: a configuration error is not a crash."""
    click.echo(f"Error: {err}", err=True)
    sys.exit(CONFIG_ERROR_STATUS)
