"""``prefect agent <type> explain RUN_ID``: why this agent would or would not take a run."""

from __future__ import annotations

import sys
from typing import Any

import click

from prefect_agent import bootstrap
from prefect_agent.adapters.config import FlagSource, standard_layers
from prefect_agent.adapters.config.keys import keys_for
from prefect_agent.adapters.system.clock import SystemClock
from prefect_agent.cli.agent_commands import given_flags, option_for
from prefect_agent.cli.failure import fail
from prefect_agent.cli.groups import (
    CONTEXT_SETTINGS,
    agent_docker,
    agent_ecs,
    agent_kubernetes,
    agent_local,
    agent_vertex,
)
from prefect_agent.domain.errors import ConfigError, PrefectAgentError
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.effective_config import effective_config
from prefect_agent.services.explain import RunExplainer

API_ERROR_STATUS = 1
NOT_PICKED_STATUS = 3
"""Exit status when the agent would not pick the run up, so scripts can test for it."""

_GROUPS = {
    PlatformKind.LOCAL: agent_local,
    PlatformKind.DOCKER: agent_docker,
    PlatformKind.KUBERNETES: agent_kubernetes,
    PlatformKind.ECS: agent_ecs,
    PlatformKind.VERTEX: agent_vertex,
}


def _explain_command(kind: PlatformKind) -> click.Command:
    def explain(run_id: str, **_: Any) -> None:
        ctx = click.get_current_context()
        overrides = ctx.find_object(bootstrap.AdapterOverrides) or bootstrap.AdapterOverrides()
        layers = standard_layers(kind, FlagSource(kind, given_flags(ctx, kind)))
        try:
            config = effective_config(kind, layers).config
            source = overrides.source or bootstrap.source_for(config)
        except ConfigError as err:
            fail(err)
        explainer = RunExplainer(
            source=source, config=config, clock=overrides.clock or SystemClock()
        )
        try:
            result = explainer.explain(run_id)
        except PrefectAgentError as err:
            click.echo(
                f"Error: could not read flow run {run_id} from {config.api_display}: {err}",
                err=True,
            )
            sys.exit(API_ERROR_STATUS)
        click.echo(result.render())
        if not result.picked_up:
            sys.exit(NOT_PICKED_STATUS)

    params: list[click.Parameter] = [click.Argument(["run_id"])]
    params += [option_for(key) for key in keys_for(kind) if key.flag is not None]
    return click.Command(
        "explain",
        callback=explain,
        params=params,
        help=f"Explain whether a {kind.value} agent configured with these flags would pick up "
        "flow run RUN_ID, and why (state, labels, run config, start time, backlog policy). "
        f"Exits {NOT_PICKED_STATUS} when it would not.",
        context_settings=CONTEXT_SETTINGS,
    )


for _kind, _group in _GROUPS.items():
    _group.add_command(_explain_command(_kind))
