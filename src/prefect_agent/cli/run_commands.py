"""``prefect run create|list|show``: schedule and inspect flow runs on any Prefect API."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import click

from prefect_agent.cli.groups import CONTEXT_SETTINGS, run
from prefect_agent.domain.errors import PrefectAgentError

F = TypeVar("F", bound=Callable[..., Any])


def _api_options(command: F) -> F:
    command = click.option(
        "--api-key",
        default=None,
        help="API key (sent as a Bearer token). Default: as the agents resolve it "
        "(PREFECT__CLOUD__API_KEY, ~/.prefect/config.toml).",
    )(command)
    command = click.option(
        "--api",
        default=None,
        help="Prefect API address. Default: as the agents resolve it (PREFECT__CLOUD__API, "
        "PREFECT__SERVER__HOST/PORT, ~/.prefect/config.toml; http://localhost:4200).",
    )(command)
    return command


@contextmanager
def _admin(api: str | None, api_key: str | None) -> Iterator[Any]:
    """A ``RunAdmin`` for the API the agents would use, with ``--api``/``--api-key`` winning;
    its errors become one-line CLI errors."""
    from prefect_agent.adapters.config import FlagSource, standard_layers
    from prefect_agent.adapters.graphql.client import GraphQLClient
    from prefect_agent.adapters.graphql.retry_policy import RetryPolicy
    from prefect_agent.adapters.graphql.run_admin import RunAdmin
    from prefect_agent.cli.failure import fail
    from prefect_agent.domain.errors import ConfigError
    from prefect_agent.domain.platform_kind import PlatformKind
    from prefect_agent.effective_config import effective_config

    given = {"cloud.api": api, "cloud.api_key": api_key}
    flags = FlagSource(PlatformKind.LOCAL, {k: v for k, v in given.items() if v is not None})
    try:
        config = effective_config(PlatformKind.LOCAL, standard_layers(PlatformKind.LOCAL, flags))
    except ConfigError as err:
        fail(err)
    settings = config.config
    client = GraphQLClient(
        settings.api,
        api_key=settings.api_key,
        tenant_id=settings.tenant_id,
        timeout=30,
        retry=RetryPolicy(attempts=3),
    )
    admin = RunAdmin(client)
    try:
        yield admin
    except PrefectAgentError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        admin.client.close()


def _json_option(value: str | None, option: str) -> Any:
    """A JSON value given inline or as ``@path``; errors name the option."""
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {value[1:]!r}: {exc}", param_hint=option
            ) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint=option) from None


def _object_option(value: str | None, option: str) -> Mapping[str, Any] | None:
    parsed = _json_option(value, option)
    if parsed is not None and not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object", param_hint=option)
    return parsed


def _parameters(raw: str | None, pairs: tuple[str, ...]) -> Mapping[str, Any] | None:
    params = dict(_object_option(raw, "--parameters") or {})
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--param")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value  # a bare word is a string
    return params if (raw is not None or pairs) else None


def _start_time(start_in: float | None, start_at: str | None) -> datetime | None:
    if start_in is not None and start_at is not None:
        raise click.UsageError("give --start-in or --start-at, not both")
    if start_in is not None:
        return datetime.now(timezone.utc) + timedelta(seconds=start_in)
    if start_at is not None:
        try:
            parsed = datetime.fromisoformat(start_at.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(
                f"{start_at!r} is not an ISO 8601 timestamp", param_hint="--start-at"
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def _warn_unreadable(run_config: Mapping[str, Any] | None) -> None:
    from prefect_agent.adapters.graphql.converters import RowError, run_config_from_json

    try:
        run_config_from_json(run_config)
    except RowError as exc:
        click.echo(f"Warning: agents will fail this run: {exc}", err=True)


@run.command("create", context_settings=CONTEXT_SETTINGS)
@_api_options
@click.option(
    "--flow-name",
    default="flow",
    show_default=True,
    help="Flow to run; created when missing (embedded API) or when --storage is given.",
)
@click.option("--flow-id", default=None, help="Run this flow id instead of looking up a name.")
@click.option(
    "--project-id", default=None, help="Project for a new flow (Prefect Server needs one)."
)
@click.option(
    "--label",
    "-l",
    "labels",
    multiple=True,
    help="Run label (repeatable). Without any, the run config's labels are used.",
)
@click.option(
    "--run-config",
    default=None,
    help='Run config JSON or @file, e.g. \'{"type": "LocalRun", "env": {"K": "V"}}\'.',
)
@click.option(
    "--storage", default=None, help="Flow storage JSON or @file (creates a flow version)."
)
@click.option(
    "--flow-path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Shorthand for Local storage of a flow script at this path.",
)
@click.option("--parameters", default=None, help="Parameters as a JSON object or @file.")
@click.option(
    "--param", "-p", "params", multiple=True, help="One parameter KEY=VALUE (repeatable)."
)
@click.option("--start-in", type=float, default=None, help="Start this many seconds from now.")
@click.option("--start-at", default=None, help="Start at this ISO 8601 time.")
@click.option("--name", default=None, help="Flow run name.")
@click.option(
    "--count",
    "-n",
    default=1,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="How many runs to create (for bursts and benchmarks).",
)
def create(
    api: str | None,
    api_key: str | None,
    flow_name: str,
    flow_id: str | None,
    project_id: str | None,
    labels: tuple[str, ...],
    run_config: str | None,
    storage: str | None,
    flow_path: str | None,
    parameters: str | None,
    params: tuple[str, ...],
    start_in: float | None,
    start_at: str | None,
    name: str | None,
    count: int,
) -> None:
    """Schedule flow run(s) and print their ids, one per line."""
    config = _object_option(run_config, "--run-config")
    storage_json = _object_option(storage, "--storage")
    if flow_path is not None:
        if storage_json is not None:
            raise click.UsageError("give --storage or --flow-path, not both")
        storage_json = {
            "type": "Local",
            "path": os.path.abspath(flow_path),
            "stored_as_script": True,
            "flows": {},
            "secrets": [],
            "__version__": "1.4.1",
        }
    _warn_unreadable(config)
    start = _start_time(start_in, start_at)
    values = _parameters(parameters, params)
    with _admin(api, api_key) as admin:
        target = flow_id or admin.flow_id(flow_name, storage=storage_json, project_id=project_id)
        for index in range(count):
            run_name = f"{name}-{index + 1}" if name and count > 1 else name
            click.echo(
                admin.create_run(
                    target,
                    labels=list(labels) if labels else None,
                    run_config=config,
                    parameters=values,
                    start_at=start,
                    name=run_name,
                )
            )


@run.command("list", context_settings=CONTEXT_SETTINGS)
@_api_options
@click.option(
    "--state", "-s", "states", multiple=True, help="Only runs in this state (repeatable)."
)
@click.option("--label", "-l", "labels", multiple=True, help="Only runs with this label.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_runs(
    api: str | None,
    api_key: str | None,
    states: tuple[str, ...],
    labels: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """List flow runs, newest first, with their states."""
    with _admin(api, api_key) as admin:
        runs = admin.list_runs(limit=limit, states=states, labels=labels)
    if as_json:
        click.echo(json.dumps(runs, indent=2))
        return
    click.echo(f"{'ID':36}  {'STATE':10}  {'VER':>3}  {'FLOW':16}  {'NAME':24}  LABELS")
    for item in runs:
        flow = (item.get("flow") or {}).get("name") or ""
        click.echo(
            f"{item['id']:36}  {item.get('state') or '':10}  {item.get('version') or 0:>3}  "
            f"{flow[:16]:16}  {(item.get('name') or '')[:24]:24}  "
            f"{','.join(item.get('labels') or [])}"
        )


@run.command("show", context_settings=CONTEXT_SETTINGS)
@_api_options
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(api: str | None, api_key: str | None, run_id: str, as_json: bool) -> None:
    """Show one flow run: its state, state history and logs."""
    with _admin(api, api_key) as admin:
        item = admin.show_run(run_id)
    if as_json:
        click.echo(json.dumps(item, indent=2))
        return
    click.echo(
        f"Flow run {item['id']} ({item.get('name')}) of flow {(item.get('flow') or {}).get('name')}"
    )
    click.echo(f"State: {item.get('state')} (version {item.get('version')})")
    click.echo(f"Labels: {', '.join(item.get('labels') or []) or '-'}")
    click.echo(f"Run config: {json.dumps(item.get('run_config'))}")
    click.echo("States:")
    for state in item.get("states") or []:
        message = state.get("message") or ""
        click.echo(f"  {state['timestamp']}  v{state['version']}  {state['state']}: {message}")
    click.echo("Logs:")
    for log in item.get("logs") or []:
        click.echo(
            f"  {log['timestamp']}  {log['level']:8} {log.get('name') or ''}: {log['message']}"
        )


@run.command("cancel", context_settings=CONTEXT_SETTINGS)
@_api_options
@click.argument("run_ids", nargs=-1, required=True)
def cancel(api: str | None, api_key: str | None, run_ids: tuple[str, ...]) -> None:
    """Cancel flow runs that have not finished; prints each run's resulting state. Every id is
    tried; each one that fails is reported, and the exit status is 1 if any did."""
    failed = 0
    with _admin(api, api_key) as admin:
        for run_id in run_ids:
            try:
                click.echo(f"{run_id} {admin.cancel_run(run_id)}")
            except PrefectAgentError as exc:
                failed += 1
                click.echo(f"{run_id} not cancelled: {exc}", err=True)
    if failed:
        raise click.ClickException(f"{failed} of {len(run_ids)} runs could not be cancelled")
