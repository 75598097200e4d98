"""Run the embedded API inside any Python process and drive it over real HTTP: what the
``demo`` command runs on, and (through ``prefect_agent.server.testing``) every test suite
that needs a Prefect API::

    from prefect_agent.server.embedded import running_server

    with running_server() as api:                 # in-memory SQLite, free port, own thread
        run_id = api.create_run(labels=["dev"], run_config={"type": "LocalRun"})
        burst = api.create_runs(1000, labels=["dev"])   # aliased mutations, 4 requests
        ...                                      # point an agent at api.url, key api.api_key
        assert api.state_of(run_id) == "Success"

The server requires an API key, generated unless one is given (``api_key=``);
``api.api_key`` is it, ``api.auth_headers`` the header that carries it, ``api.agent_env``
the variables that give it to an agent or Prefect 1.4.1 process. ``auth=False`` serves
without one (tests of that mode only).

Everything here goes through HTTP (the agent's own transport), exactly as an agent or
flow process would, except ``api.store`` which gives direct read access to the database for
assertions. The helpers' own requests are exempt from ``api.faults`` (injected failures:
errors, 429s, malformed bodies, resets, lost answers, delays, outages) and from ``api.stats``
(request counts by operation), so a test can inspect the API while the agent sees it failing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from prefect_agent.adapters.graphql.transport import HttpTransport
from prefect_agent.domain.queue_limits import QueueLimits
from prefect_agent.domain.secret import Secret
from prefect_agent.server.access import AccessPolicy, generate_api_key
from prefect_agent.server.api import Api
from prefect_agent.server.faults import EXEMPT_HEADER, ServerFaults
from prefect_agent.server.http_server import ApiServer
from prefect_agent.server.lazarus import Lazarus
from prefect_agent.server.request_limits import ConnectionLimits, QueryLimits
from prefect_agent.server.request_stats import RequestStats
from prefect_agent.server.store import Store
from prefect_agent.server.timestamps import to_text


class ApiRequestFailed(RuntimeError):
    """The embedded API answered a helper's request with errors."""


class RunningServer:
    """A started embedded API: ``url``, ``tenant_id``, ``store`` and scheduling helpers."""

    def __init__(self, server: ApiServer, tenant_id: str, lazarus: Lazarus | None = None) -> None:
        self.server = server
        self.lazarus = lazarus
        self.url = server.url
        self.tenant_id = tenant_id
        self.store: Store = server.api.store
        self.faults: ServerFaults = server.faults
        """Injects failures into every request except these helpers' own."""
        self.stats: RequestStats = server.api.stats
        """Counts every request except these helpers' own (``stats.snapshot()``)."""
        self.api_key: str | None = server.access.api_key
        """The key clients must send (None when served with ``auth=False``)."""
        self._http = HttpTransport(self.url, timeout=30, environ={})
        self._headers = {
            "Content-Type": "application/json",
            EXEMPT_HEADER: "1",
            **self.auth_headers,
        }

    @property
    def auth_headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <key>"}``, or nothing when no key is required."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    @property
    def secret_key(self) -> Secret | None:
        """The key as the agent's settings and ``GraphQLClient`` take it."""
        return Secret(self.api_key) if self.api_key else None

    @property
    def agent_env(self) -> dict[str, str]:
        """The variables pointing an agent or a Prefect 1.4.1 process at this API."""
        env = {"PREFECT__CLOUD__API": self.url, "PREFECT__BACKEND": "server"}
        if self.api_key:
            env["PREFECT__CLOUD__API_KEY"] = self.api_key
        return env

    # -- raw access ------------------------------------------------------------------------

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST a document; return ``data`` or raise ``ApiRequestFailed`` with the errors."""
        request = {"query": query, "variables": dict(variables or {})}
        body = json.loads(self._http.post(json.dumps(request).encode(), self._headers).body)
        if body.get("errors"):
            raise ApiRequestFailed(json.dumps(body["errors"]))
        data: dict[str, Any] = body["data"]
        return data

    # -- scheduling ------------------------------------------------------------------------

    def create_flow(
        self,
        name: str = "flow",
        *,
        run_config: Mapping[str, Any] | None = None,
        storage: Mapping[str, Any] | None = None,
        core_version: str = "1.4.1",
    ) -> str:
        serialized = {
            "name": name,
            "run_config": dict(run_config) if run_config is not None else None,
            "storage": dict(storage) if storage is not None else None,
            "__version__": core_version,
        }
        data = self.graphql(
            "mutation($input: create_flow_input!) { create_flow(input: $input) { id } }",
            {"input": {"serialized_flow": serialized}},
        )
        return str(data["create_flow"]["id"])

    def create_run(
        self,
        *,
        labels: Sequence[str] | None = (),
        run_config: Mapping[str, Any] | None = None,
        start_time: datetime | None = None,
        parameters: Mapping[str, Any] | None = None,
        flow_id: str | None = None,
        flow_name: str = "flow",
        storage: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> str:
        """A Scheduled flow run (a new flow unless ``flow_id`` is given); returns its id.

        ``labels=None`` lets the server derive them from the run config, as Prefect does.
        """
        flow_id = flow_id or self.create_flow(flow_name, storage=storage)
        run_input = self._run_input(
            flow_id,
            labels=labels,
            run_config=run_config,
            start_time=start_time,
            parameters=parameters,
            name=name,
        )
        data = self.graphql(
            "mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }",
            {"input": run_input},
        )
        return str(data["create_flow_run"]["id"])

    @staticmethod
    def _run_input(
        flow_id: str,
        *,
        labels: Sequence[str] | None = (),
        run_config: Mapping[str, Any] | None = None,
        start_time: datetime | None = None,
        parameters: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        run_input: dict[str, Any] = {"flow_id": flow_id}
        if labels is not None:
            run_input["labels"] = list(labels)
        if run_config is not None:
            run_input["run_config"] = dict(run_config)
        if start_time is not None:
            run_input["scheduled_start_time"] = to_text(start_time)
        if parameters is not None:
            run_input["parameters"] = dict(parameters)
        if name is not None:
            run_input["flow_run_name"] = name
        return run_input

    def create_runs(self, count: int, *, flow_id: str | None = None, **run: Any) -> list[str]:
        """``count`` Scheduled runs like ``create_run``'s, in a few requests (for bursts)."""
        flow_name, storage = str(run.pop("flow_name", "flow")), run.pop("storage", None)
        flow_id = flow_id or self.create_flow(flow_name, storage=storage)
        template = self._run_input(flow_id, **run)
        ids: list[str] = []
        for start in range(0, count, 250):
            size = min(250, count - start)
            fields = " ".join(f"r{i}: create_flow_run(input: $input) {{ id }}" for i in range(size))
            data = self.graphql(
                f"mutation($input: create_flow_run_input!) {{ {fields} }}", {"input": template}
            )
            ids.extend(str(data[f"r{i}"]["id"]) for i in range(size))
        return ids

    def set_state(
        self, run_id: str, state: Mapping[str, Any] | str, version: int | None = None
    ) -> None:
        """Set a flow run's state as a flow process would (a bare name makes a minimal state)."""
        serialized = {"type": state, "message": f"{state}."} if isinstance(state, str) else state
        self.graphql(
            "mutation($input: set_flow_run_states_input!) {"
            " set_flow_run_states(input: $input) { states { id } } }",
            {
                "input": {
                    "states": [{"flow_run_id": run_id, "version": version, "state": serialized}]
                }
            },
        )

    # -- inspection ------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any]:
        """The run's row: state, version, labels, serialized_state, agent_id, ..."""
        data = self.graphql(
            "query($id: uuid!) { flow_run_by_pk(id: $id) { id state version labels "
            "serialized_state agent_id run_config name } }",
            {"id": run_id},
        )
        if data["flow_run_by_pk"] is None:
            raise ApiRequestFailed(f"no flow run with id {run_id}")
        run: dict[str, Any] = data["flow_run_by_pk"]
        return run

    def state_of(self, run_id: str) -> str:
        return str(self.run(run_id)["state"])

    def history(self, run_id: str) -> list[str]:
        """Every state the run has been in, oldest first."""
        data = self.graphql(
            "query($id: uuid!) { flow_run_by_pk(id: $id) { states { state } } }", {"id": run_id}
        )
        return [s["state"] for s in data["flow_run_by_pk"]["states"]]

    def logs(self, run_id: str) -> list[dict[str, Any]]:
        data = self.graphql(
            "query($id: uuid!) { flow_run_by_pk(id: $id) {"
            " logs { timestamp level name message } } }",
            {"id": run_id},
        )
        return list(data["flow_run_by_pk"]["logs"])

    def close(self) -> None:
        if self.lazarus is not None:
            self.lazarus.stop()
        self._http.close()
        self.server.close()


def start_server(
    *,
    db: str = ":memory:",
    host: str = "127.0.0.1",
    port: int = 0,
    limits: QueueLimits | None = None,
    create_tenant: bool = True,
    lazarus_after: float | None = None,
    api_key: str | None = None,
    auth: bool = True,
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
    query_limits: QueryLimits | None = None,
    connections: ConnectionLimits | None = None,
) -> RunningServer:
    """Start the embedded API in a daemon thread; call ``close()`` when done.

    ``port=0`` picks a free port (read it from ``.url``). ``create_tenant`` makes the default
    tenant so an agent can register at once. ``lazarus_after`` seconds turns on Lazarus
    (runs stuck in Submitted are scheduled again); off by default in tests. ``api_key``
    (generated when not given) is required unless ``auth=False``.
    """
    key = (api_key or generate_api_key()) if auth else None
    access = AccessPolicy.with_hosts(key, allowed_hosts, allowed_origins)
    store = Store(db)
    tenant_id = store.ensure_default_tenant() if create_tenant else ""
    api = Api(store, limits, query_limits)
    server = ApiServer(api, host=host, port=port, access=access, connections=connections).start()
    lazarus = Lazarus(store, after_seconds=lazarus_after).start() if lazarus_after else None
    return RunningServer(server, tenant_id, lazarus)


@contextmanager
def running_server(**options: Any) -> Iterator[RunningServer]:
    """``start_server(**options)`` as a context manager that stops the server on exit."""
    running = start_server(**options)
    try:
        yield running
    finally:
        running.close()
