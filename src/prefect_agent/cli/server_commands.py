"""``prefect server start`` and ``prefect server create-tenant``: the embedded Prefect API."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click

from prefect_agent.cli.groups import CONTEXT_SETTINGS, server


def _limits(scan: int, returned: int) -> Any:
    from prefect_agent.server.queue_limits import QueueLimits

    try:
        return QueueLimits(scan=scan, returned=returned)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--queue-scan-limit/--queue-limit") from None


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
@click.option(
    "--queue-scan-limit",
    default=10_000,
    show_default=True,
    type=int,
    help="Earliest eligible runs get_runs_in_queue examines (Prefect Server: 75).",
)
@click.option(
    "--queue-limit",
    default=1_000,
    show_default=True,
    type=int,
    help="Run ids get_runs_in_queue returns per call (Prefect Server: 25).",
)
@click.option(
    "--lazarus-after",
    default=600.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Reschedule runs stuck in Submitted this many seconds (0: never), as Prefect Server.",
)
@click.option(
    "--scheduler-interval",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds between scheduler passes creating runs of active schedules (0: never).",
)
@click.option(
    "--zombies-after",
    default=600.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Fail or retry task runs Running this many seconds without a heartbeat (0: never).",
)
@click.option(
    "--no-default-tenant",
    is_flag=True,
    help="Do not create the 'default' tenant when the database has none.",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
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
) -> None:
    """Serve a Prefect-compatible GraphQL API (the subset agents and flow runs use)."""
    try:
        from prefect_agent.server.api import Api
        from prefect_agent.server.http_server import ApiServer
    except ImportError as exc:
        raise click.ClickException(
            f"the embedded API needs the 'server' extra ({exc.name} is missing): "
            "pip install 'prefect-agent[server]'"
        ) from None

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    limits = _limits(queue_scan_limit, queue_limit)
    store = _open_store(db)
    tenant = None if no_default_tenant else store.ensure_default_tenant()
    try:
        api_server = ApiServer(Api(store, limits), host=host, port=port)
    except OSError as exc:
        store.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    click.echo(f"Prefect API (prefect-agent embedded) listening on {api_server.url}", err=True)
    click.echo(f"Database: {db}; tenant: {tenant or 'none'}", err=True)
    click.echo(f"Point agents at it with PREFECT__CLOUD__API={api_server.url}", err=True)
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
