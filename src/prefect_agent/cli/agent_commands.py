"""``prefect agent local|docker|kubernetes start|config`` and ``prefect agent local install``.

The flags are built from the configuration keys (``adapters.config.keys``), so a field added to
a settings class gets its flag here without an edit. Adapters can be replaced for tests or
embedding by invoking the CLI with ``obj=AdapterOverrides(...)`` (click's context object).
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click
from click.core import ParameterSource

from prefect_agent import bootstrap
from prefect_agent.adapters.config import DefaultsSource, FlagSource, resolve, standard_layers
from prefect_agent.adapters.config.keys import ConfigKey, keys_for
from prefect_agent.adapters.config.value_display import as_json, as_table
from prefect_agent.cli.failure import fail
from prefect_agent.cli.groups import (
    CONTEXT_SETTINGS,
    agent_docker,
    agent_ecs,
    agent_kubernetes,
    agent_local,
    agent_vertex,
)
from prefect_agent.domain.agent_config import stop_timeout_seconds
from prefect_agent.domain.errors import ConfigError, PrefectAgentError
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.effective_config import checked_config

_GROUPS = {
    PlatformKind.LOCAL: agent_local,
    PlatformKind.DOCKER: agent_docker,
    PlatformKind.KUBERNETES: agent_kubernetes,
    PlatformKind.ECS: agent_ecs,
    PlatformKind.VERTEX: agent_vertex,
}


def _parameter_name(key: ConfigKey) -> str:
    return "opt_" + key.key.replace(".", "__")


def option_for(key: ConfigKey) -> click.Option:
    """The click option of ``key``'s flag. Values stay text: the flag layer reads them, so a
    bad value gets the same one-line error as from any other layer."""
    flag = key.flag
    assert flag is not None
    decls = [flag.long] if flag.short is None else [flag.long, flag.short]
    if flag.negatable:
        decls = [f"{flag.long}/--no-{flag.long[2:]}"]
    name = _parameter_name(key)
    help_text = flag.help or key.help
    if flag.switch:
        return click.Option([*decls, name], is_flag=True, default=None, help=help_text)
    return click.Option(
        [*decls, name],
        multiple=flag.multiple,
        default=() if flag.multiple else None,
        metavar=flag.metavar or "TEXT",
        help=help_text,
    )


def given_flags(ctx: click.Context, kind: PlatformKind) -> dict[str, Any]:
    """``{config key: raw value}`` for the flags that were given on the command line."""
    given: dict[str, Any] = {}
    for key in keys_for(kind):
        if key.flag is None:
            continue
        name = _parameter_name(key)
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            given[key.key] = ctx.params[name]
    return given


def _start_command(kind: PlatformKind) -> click.Command:
    def start(**_: Any) -> None:
        ctx = click.get_current_context()
        overrides = ctx.find_object(bootstrap.AdapterOverrides)
        layers = standard_layers(kind, FlagSource(kind, given_flags(ctx, kind)))
        try:
            bootstrap.start_from_layers(kind, layers, overrides)
        except ConfigError as err:
            fail(err)
        except PrefectAgentError as err:
            # A refused API key, an unknown agent config id...: one line, not a traceback.
            click.echo(f"Error: {err}", err=True)
            sys.exit(1)

    return click.Command(
        "start",
        callback=start,
        params=[option_for(key) for key in keys_for(kind) if key.flag is not None],
        help=f"Start a {kind.value} agent. Flags override the environment and "
        "~/.prefect/config.toml (see `config`).",
        context_settings=CONTEXT_SETTINGS,
    )


def _config_command(kind: PlatformKind) -> click.Command:
    def show(as_json_output: bool, **_: Any) -> None:
        ctx = click.get_current_context()
        layers = standard_layers(kind, FlagSource(kind, given_flags(ctx, kind)))
        try:
            resolved = checked_config(kind, layers)
        except ConfigError as err:
            fail(err)
        click.echo(as_json(resolved) if as_json_output else as_table(resolved))

    params: list[click.Parameter] = [
        click.Option(
            ["--json", "as_json_output"], is_flag=True, help="Print JSON instead of a table."
        )
    ]
    params += [option_for(key) for key in keys_for(kind) if key.flag is not None]
    return click.Command(
        "config",
        callback=show,
        params=params,
        help=f"Print the effective configuration of a {kind.value} agent and where each value "
        "comes from (default, file, env, flag). Secrets are masked.",
        context_settings=CONTEXT_SETTINGS,
    )


for _kind, _group in _GROUPS.items():
    _group.add_command(_start_command(_kind))
    _group.add_command(_config_command(_kind))


# -- prefect agent local install --------------------------------------------------------------

# The flags of 1.4.1's `local install`, spelled as on `start`.
INSTALL_KEYS = (
    "agent.local.show_flow_logs",
    "cloud.agent.labels",
    "cloud.agent.env_vars",
    "agent.local.import_paths",
    "cloud.api_key",
    "cloud.tenant_id",
    "agent.agent_config_id",
    # Not a 1.4.1 flag: it sets both the agent's drain and supervisord's stopwaitsecs.
    "agent.shutdown_grace_seconds",
)


SUPERVISORD_TEMPLATE = """\
; supervisord configuration running a Prefect local agent (generated by prefect-agent)
; Save as supervisord.conf, then: supervisord -c supervisord.conf

[unix_http_server]
file=/tmp/supervisor.sock

[supervisord]
loglevel=info

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix:///tmp/supervisor.sock

[program:prefect-agent]
command={command}
{environment}redirect_stderr=true
autorestart=true
stopsignal=TERM
; longer than the agent's drain (shutdown_grace_seconds plus time to launch what it claimed)
stopwaitsecs={stopwaitsecs}
"""

# supervisord expands %(ENV_X)s from its own environment: the key never sits in the file.
KEY_FROM_SUPERVISORD_ENV = 'environment=PREFECT__CLOUD__API_KEY="%(ENV_PREFECT__CLOUD__API_KEY)s"'
KEY_NOTE = (
    "The API key is not written into the file: start supervisord with PREFECT__CLOUD__API_KEY "
    "in its environment (the file passes it on), or put it in ~/.prefect/config.toml."
)


def start_command_line(given: dict[str, Any]) -> list[str]:
    """The ``prefect agent local start`` argv for the install flags, without the API key."""
    argv = ["prefect", "agent", "local", "start"]
    if given.get("agent.local.show_flow_logs"):
        argv.append("-f")
    for label in given.get("cloud.agent.labels", ()):
        argv += ["-l", label]
    for assignment in given.get("cloud.agent.env_vars", ()):
        argv += ["-e", assignment]
    for path in given.get("agent.local.import_paths", ()):
        argv += ["-p", path]
    if given.get("cloud.tenant_id"):
        argv += ["--tenant-id", given["cloud.tenant_id"]]
    if given.get("agent.agent_config_id"):
        argv += ["--agent-config-id", given["agent.agent_config_id"]]
    if given.get("agent.shutdown_grace_seconds") is not None:
        argv += ["--shutdown-grace-seconds", str(given["agent.shutdown_grace_seconds"])]
    return argv


def supervisord_conf(given: dict[str, Any], shutdown_grace_seconds: float) -> str:
    """The supervisord file. A key reaches the program through supervisord's environment: it
    is neither in the file nor on the command line (visible in the process list)."""
    command = " ".join(shlex.quote(part) for part in start_command_line(given))
    environment = KEY_FROM_SUPERVISORD_ENV + "\n" if given.get("cloud.api_key") else ""
    return SUPERVISORD_TEMPLATE.format(
        command=command,
        environment=environment,
        stopwaitsecs=stop_timeout_seconds(shutdown_grace_seconds),
    )


def _install_params() -> list[click.Parameter]:
    keys = {key.key: key for key in keys_for(PlatformKind.LOCAL)}
    return [option_for(keys[dotted]) for dotted in INSTALL_KEYS]


def _install(**_: Any) -> None:
    ctx = click.get_current_context()
    given = given_flags(ctx, PlatformKind.LOCAL)
    # Validate (tenant id, KEY=VALUE) exactly as `start` would, before printing anything.
    try:
        config = resolve(
            PlatformKind.LOCAL,
            [DefaultsSource(PlatformKind.LOCAL), FlagSource(PlatformKind.LOCAL, given)],
        ).config
    except ConfigError as err:
        fail(err)
    if given.get("cloud.api_key"):
        click.echo(KEY_NOTE, err=True)
    click.echo(supervisord_conf(given, config.shutdown_grace_seconds), nl=False)


agent_local.add_command(
    click.Command(
        "install",
        callback=_install,
        params=_install_params(),
        help="Print a supervisord.conf that keeps a local agent running.",
        context_settings=CONTEXT_SETTINGS,
    )
)
