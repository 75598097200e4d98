"""The command groups; each command module attaches its commands to these."""

from __future__ import annotations

import click

from prefect_agent import __version__

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="prefect-agent")
def prefect() -> None:
    """Prefect 1.x agents, rebuilt: run flow runs from a Prefect API on your infrastructure."""


@prefect.group(context_settings=CONTEXT_SETTINGS)
def agent() -> None:
    """Start and configure agents (local, docker, kubernetes)."""


@agent.group("local", context_settings=CONTEXT_SETTINGS)
def agent_local() -> None:
    """An agent that runs each flow run as a local subprocess."""


@agent.group("docker", context_settings=CONTEXT_SETTINGS)
def agent_docker() -> None:
    """An agent that runs each flow run in a Docker container."""


@agent.group("kubernetes", context_settings=CONTEXT_SETTINGS)
def agent_kubernetes() -> None:
    """An agent that runs each flow run as a Kubernetes Job."""


@prefect.group(context_settings=CONTEXT_SETTINGS)
def server() -> None:
    """The embedded Prefect-compatible API (for development, tests and demos)."""


@prefect.group(context_settings=CONTEXT_SETTINGS)
def run() -> None:
    """Schedule and inspect flow runs on any Prefect-compatible API."""
