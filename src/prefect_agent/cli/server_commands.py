"""``prefect server start`` and ``prefect server create-tenant``: the embedded Prefect API."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Mapping
from typing import Any

import click

from prefect_agent import extras
from prefect_agent.cli.failure import fail
from prefect_agent.cli.groups import CONTEXT_SETTINGS, server
from prefect_agent.domain.log_levels import FLAG_LOG_LEVELS
from prefect_agent.extras import MissingExtra
from prefect_agent.server.request_limits import ConnectionLimits, QueryLimits, default_of

KEY_ENV = "PREFECT__SERVER__API_KEY"
KEY_FILE_ENV = "PREFECT__SERVER__API_KEY_FILE"


def _limits(scan: int, returned: int) -> Any:
    from prefect_agent.domain.queue_limits import QueueLimits

    try:
        return QueueLimits(scan=scan, returned=returned)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--queue-scan-limit/--queue-limit") from None


QUERY_LIMIT_HELP = {
    "max_depth": "Deepest selection a query may have.",
    "max_fields": "Fields one query may select once fragments are expanded.",
    "max_repeats": "Times one field (response key) may repeat in one selection.",
    "max_spreads": "Fragment spreads in one selection.",
    "max_tokens": "Tokens one query document may have.",
    "max_rows": "Rows one request may resolve, nested lists included.",
    "max_result_bytes": "Largest JSON answer sent.",
    "cache_entries": "Parsed query documents kept (by hash).",
    "cache_max_query_bytes": "Larger query documents are parsed every time, not kept.",
}
CONNECTION_LIMIT_HELP = {
    "max_connections": "Connections served at once (one thread each); more get 503.",
    "idle_timeout": "Seconds a kept-alive connection may wait for its next request.",
    "request_timeout": "Seconds a read or write within one request may stall.",
}


def _options(table: Mapping[str, tuple[Any, Any, str]]) -> Any:
    """One option per ``name: (default, type, help)``, named as the setting (``--max-rows``),
    in the table's order."""

    def add(command: Any) -> Any:
        for name, (default, kind, help_text) in reversed(table.items()):
            command = click.option(
                "--" + name.replace("_", "-"),
                name,
                default=default,
                show_default=True,
                type=kind,
                help=help_text,
            )(command)
        return command

    return add


def _limit_table(settings: type, helps: Mapping[str, str]) -> dict[str, tuple[Any, Any, str]]:
    """Options for the fields of a limits class, their defaults the class's own."""
    table = {}
    for name, help_text in helps.items():
        default = default_of(settings, name)
        kind = click.IntRange(1) if isinstance(default, int) else click.FloatRange(0.001)
        table[name] = (default, kind, help_text)
    return table


QUEUE_OPTIONS = {
    "queue_scan_limit": (
        10_000,
        int,
        "Earliest eligible runs get_runs_in_queue examines (Prefect Server: 75).",
    ),
    "queue_limit": (1_000, int, "Run ids get_runs_in_queue returns per call (Prefect Server: 25)."),
}
SWEEP_OPTIONS = {
    "lazarus_after": (
        600.0,
        click.FloatRange(min=0),
        "Reschedule runs stuck in Submitted this many seconds (0: never), as Prefect Server.",
    ),
    "scheduler_interval": (
        30.0,
        click.FloatRange(min=0),
        "Seconds between scheduler passes creating runs of active schedules (0: never).",
    ),
    "zombies_after": (
        600.0,
        click.FloatRange(min=0),
        "Fail or retry task runs Running this many seconds without a heartbeat (0: never).",
    ),
}


@server.command("start", context_settings=CONTEXT_SETTINGS)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    default=4200,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--db",
    "db",
    default=":memory:",
    show_default=True,
    help="SQLite database file (WAL mode); ':memory:' keeps nothing.",
)
@_options(QUEUE_OPTIONS)
@_options(SWEEP_OPTIONS)
@click.option(
    "--no-default-tenant",
    is_flag=True,
    help="Do not create the 'default' tenant when the database has none.",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(FLAG_LOG_LEVELS, case_sensitive=False),
)
@click.option(
    "--api-key",
    envvar=KEY_ENV,
    default=None,
    help=f"The key clients must send (Authorization: Bearer). Env: {KEY_ENV} (prefer it: "
    "a command-line value shows in process listings). Default: generated at start.",
)
@click.option(
    "--api-key-file",
    envvar=KEY_FILE_ENV,
    default=None,
    type=click.Path(dir_okay=False),
    help=f"Read the key from this file; if it does not exist, generate one into it (mode "
    f"0600). Env: {KEY_FILE_ENV}.",
)
@click.option(
    "--no-auth",
    is_flag=True,
    help="Require no API key: anyone who can reach the port (other local users, web pages "
    "via DNS rebinding if --allowed-host is loosened) can run code as the agents' user.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="A host name clients use to reach the API, besides IP addresses, localhost and "
    "host.docker.internal (e.g. a Kubernetes Service name); '*' accepts any (repeatable).",
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    help="A web origin (scheme://host:port) whose browser requests are accepted; by "
    "default every request carrying an Origin is refused (repeatable).",
)
@_options(_limit_table(QueryLimits, QUERY_LIMIT_HELP))
@_options(_limit_table(ConnectionLimits, CONNECTION_LIMIT_HELP))
def start(
    host: str,
    port: int,
    db: str,
    queue_scan_limit: int,
    queue_limit: int,
    lazarus_after: float,
    scheduler_interval: float,
    zombies_after: float,
    no_default_tenant: bool,
    log_level: str,
    api_key: str | None,
    api_key_file: str | None,
    no_auth: bool,
    allowed_hosts: tuple[str, ...],
    allowed_origins: tuple[str, ...],
    **limit_values: Any,
) -> None:
    """Serve a Prefect-compatible GraphQL API (the subset agents and flow runs use).

    Clients must send an API key (Authorization: Bearer), as Prefect 1.4.1 does when
    PREFECT__CLOUD__API_KEY is set: give one (--api-key-file, PREFECT__SERVER__API_KEY) or
    let the server generate one and print it.
    """
    try:
        extras.require("server", needed_by="the embedded API")
    except MissingExtra as err:
        fail(err)
    from prefect_agent.server.access import AccessPolicy
    from prefect_agent.server.api import Api
    from prefect_agent.server.http_server import ApiServer

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    limits = _limits(queue_scan_limit, queue_limit)
    query_limits = QueryLimits(**{k: limit_values[k] for k in QUERY_LIMIT_HELP})
    connections = ConnectionLimits(**{k: limit_values[k] for k in CONNECTION_LIMIT_HELP})
    key, key_note = _api_key(api_key, api_key_file, no_auth)
    access = AccessPolicy.with_hosts(key, allowed_hosts, allowed_origins)
    store = _open_store(db)
    tenant = None if no_default_tenant else store.ensure_default_tenant()
    try:
        api_server = ApiServer(
            Api(store, limits, query_limits),
            host=host,
            port=port,
            access=access,
            connections=connections,
        )
    except OSError as exc:
        store.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    click.echo(f"Prefect API (prefect-agent embedded) listening on {api_server.url}", err=True)
    click.echo(f"Database: {db}; tenant: {tenant or 'none'}", err=True)
    click.echo(key_note, err=True)
    click.echo(
        f"Point agents at it with PREFECT__CLOUD__API={api_server.url}"
        + (" and PREFECT__CLOUD__API_KEY=<the key>" if key else ""),
        err=True,
    )
    from prefect_agent.server.towel import Towel

    towel = Towel(
        store,
        lazarus_after=lazarus_after,
        scheduler_interval=scheduler_interval,
        zombies_after=zombies_after,
    ).start()
    try:
        _serve_until_signalled(api_server)
    finally:
        towel.stop()


def _api_key(given: str | None, path: str | None, no_auth: bool) -> tuple[str | None, str]:
    """The key to require and a line telling the operator where it came from. A generated
    key is shown only on a terminal: stderr redirected to a file would keep it in a log."""
    from prefect_agent.server.access import generate_api_key, read_key_file, write_key_file

    if no_auth:
        if given or path:
            raise click.UsageError("--no-auth contradicts --api-key/--api-key-file")
        return None, (
            "WARNING: no API key required (--no-auth): anyone who can reach this port can "
            "schedule runs that execute code as the agents' user"
        )
    if given and path:
        raise click.UsageError(
            f"give the API key once: --api-key ({KEY_ENV}) or --api-key-file ({KEY_FILE_ENV})"
        )
    try:
        if given:
            from prefect_agent.server.access import AccessPolicy

            AccessPolicy(given)  # the same check as for a key read from a file
            return given, "API key: the one given (--api-key or " + KEY_ENV + ")"
        if path:
            from pathlib import Path

            if Path(path).exists():
                return read_key_file(path), f"API key: read from {path}"
            key = generate_api_key()
            write_key_file(path, key)
            return key, f"API key: generated into {path} (readable by its owner only)"
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--api-key/--api-key-file") from None
    key = generate_api_key()
    if sys.stderr.isatty():
        return key, f"API key (generated; clients send it as a Bearer token): {key}"
    return key, (
        "API key: generated, and not shown because stderr is not a terminal; to share a key "
        f"with clients, give one with --api-key-file or {KEY_ENV}"
    )


def _open_store(db: str) -> Any:
    import sqlite3

    from prefect_agent.server.store import Store

    try:
        return Store(db)
    except sqlite3.Error as exc:  # a bad path, a file that is not a database, a locked one
        raise click.ClickException(f"cannot open database {db!r}: {exc}") from None


def _serve_until_signalled(api_server: Any) -> None:
    done = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        done.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    api_server.start()
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("Stopping the Prefect API", err=True)
        api_server.close()


@server.command("create-tenant", context_settings=CONTEXT_SETTINGS)
@click.option("--name", "-n", required=True, help="Tenant name.")
@click.option("--slug", "-s", default=None, help="Tenant slug (defaults to the name).")
@click.option("--db", "db", required=True, help="SQLite database file of the embedded API.")
def create_tenant(name: str, slug: str | None, db: str) -> None:
    """Create a tenant in an embedded API database and print its id."""
    from prefect_agent.server.errors import ServerError

    store = _open_store(db)
    try:
        click.echo(store.create_tenant(name, slug or name))
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
