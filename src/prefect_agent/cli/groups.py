"""The command groups; each command module attaches its commands to these.

Command modules are imported only when one of their commands is resolved (or when help lists
every command): ``prefect agent local start`` must not pay for the embedded server, the
Kubernetes manifests or ``explain`` at every start (see docs/performance.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import click

from prefect_agent import __version__

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

_CLI = "prefect_agent.cli."


class LazyGroup(click.Group):
    """A group whose commands are attached by the modules named in ``lazy`` (command name →
    module), imported the first time that command, or the list of all commands, is needed."""

    def __init__(self, *args: object, lazy: Mapping[str, str] | None = None, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy or {})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            importlib.import_module(_CLI + self.lazy[cmd_name])
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in sorted(set(self.lazy.values())):
            importlib.import_module(_CLI + module)
        return super().list_commands(ctx)


def _agent_commands(*extra: tuple[str, str]) -> dict[str, str]:
    return {
        "start": "agent_commands",
        "config": "agent_commands",
        "explain": "ops_commands",
        **dict(extra),
    }


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS, lazy={"demo": "demo_commands"})
@click.version_option(__version__, "--version", prog_name="prefect-agent")
def prefect() -> None:
    """Prefect 1.x agents, rebuilt: run flow runs from a Prefect API on your infrastructure."""


AGENT_HELP = (
    "Start and configure agents (local, docker, kubernetes, ecs, vertex): "
    f"prefect-agent {__version__}'s agents, not Prefect core's (with Prefect core installed, "
    "`python -m prefect agent` still reaches Prefect core's own)."
)


@prefect.group(context_settings=CONTEXT_SETTINGS, help=AGENT_HELP)
def agent() -> None:
    pass


@agent.group(
    "local",
    cls=LazyGroup,
    context_settings=CONTEXT_SETTINGS,
    lazy=_agent_commands(("install", "agent_commands")),
)
def agent_local() -> None:
    """An agent that runs each flow run as a local subprocess."""


@agent.group("docker", cls=LazyGroup, context_settings=CONTEXT_SETTINGS, lazy=_agent_commands())
def agent_docker() -> None:
    """An agent that runs each flow run in a Docker container."""


@agent.group(
    "kubernetes",
    cls=LazyGroup,
    context_settings=CONTEXT_SETTINGS,
    lazy=_agent_commands(("install", "kubernetes_install")),
)
def agent_kubernetes() -> None:
    """An agent that runs each flow run as a Kubernetes Job."""


@agent.group("ecs", cls=LazyGroup, context_settings=CONTEXT_SETTINGS, lazy=_agent_commands())
def agent_ecs() -> None:
    """An agent that runs each flow run as an AWS ECS task (the ecs extra)."""


@agent.group("vertex", cls=LazyGroup, context_settings=CONTEXT_SETTINGS, lazy=_agent_commands())
def agent_vertex() -> None:
    """An agent that runs each flow run as a Vertex AI custom job (the vertex extra)."""


@prefect.group(
    cls=LazyGroup,
    context_settings=CONTEXT_SETTINGS,
    lazy={"start": "server_commands", "create-tenant": "server_commands"},
)
def server() -> None:
    """The embedded Prefect-compatible API (for development, tests and demos)."""


@prefect.group(
    cls=LazyGroup,
    context_settings=CONTEXT_SETTINGS,
    lazy={name: "run_commands" for name in ("create", "list", "show", "cancel")},
)
def run() -> None:
    """Schedule and inspect flow runs on any Prefect-compatible API."""
