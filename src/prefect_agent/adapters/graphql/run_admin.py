"""Scheduling and inspecting flow runs on a Prefect API (for ``prefect run ...`` and tests)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from prefect_agent.adapters.graphql.client import GraphQLClient
from prefect_agent.adapters.graphql.documents import Operation
from prefect_agent.domain.errors import ApiError
from prefect_agent.domain.states import PREFECT_VERSION

FIND_FLOW = Operation(
    "flow",
    "query($name: String!) { flow(where: {name: {_eq: $name}}, order_by: {version: desc},"
    " limit: 1) { id } }",
    retry_safe=True,
)

# Not safe: a resend after an uncertain failure could create a second flow version.
CREATE_FLOW = Operation(
    "create_flow",
    "mutation($input: create_flow_input!) { create_flow(input: $input) { id } }",
    retry_safe=False,
)

# Not safe without an idempotency key (a resend would schedule the run twice).
CREATE_FLOW_RUN = Operation(
    "create_flow_run",
    "mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }",
    retry_safe=False,
)

LIST_RUNS = Operation(
    "flow_run",
    """query($where: flow_run_bool_exp, $limit: Int) {
  flow_run(where: $where, order_by: [{created: desc}], limit: $limit) {
    id name state version labels scheduled_start_time state_timestamp agent_id flow { name }
  }
}""",
    retry_safe=True,
)

SHOW_RUN = Operation(
    "flow_run_by_pk",
    """query($id: uuid!) {
  flow_run_by_pk(id: $id) {
    id name state version labels parameters run_config scheduled_start_time start_time
    end_time agent_id serialized_state flow { id name storage }
    states(order_by: [{version: asc}]) { version state message timestamp }
    logs(order_by: [{timestamp: asc}]) { timestamp level name message }
  }
}""",
    retry_safe=True,
)

# Safe: cancelling twice leaves the run Cancelled (a finished run is left as it is).
CANCEL_RUN = Operation(
    "cancel_flow_run",
    "mutation($input: cancel_flow_run_input!) { cancel_flow_run(input: $input) { state } }",
    retry_safe=True,
)

ADMIN_OPERATIONS = (FIND_FLOW, CREATE_FLOW, CREATE_FLOW_RUN, LIST_RUNS, SHOW_RUN, CANCEL_RUN)


class RunAdmin:
    """Creates flows and flow runs and reads them back, over a ``GraphQLClient``."""

    def __init__(self, client: GraphQLClient) -> None:
        self.client = client

    def flow_id(
        self,
        name: str,
        *,
        storage: Mapping[str, Any] | None = None,
        run_config: Mapping[str, Any] | None = None,
        project_id: str | None = None,
        create: bool = True,
    ) -> str:
        """The newest flow called ``name``; created (with ``storage``) if there is none or
        when a storage is given (a new flow version, as registering does)."""
        if storage is None:
            found = self.client.execute(FIND_FLOW, {"name": name}).get("flow") or []
            if found:
                return str(found[0]["id"])
        if not create:
            raise ApiError(f"No flow named {name!r} at {self.client.api}")
        serialized = {
            "name": name,
            "storage": dict(storage) if storage is not None else None,
            "run_config": dict(run_config) if run_config is not None else None,
            "__version__": PREFECT_VERSION,
        }
        flow_input: dict[str, Any] = {"serialized_flow": serialized}
        if project_id:
            flow_input["project_id"] = project_id
        data = self.client.execute(CREATE_FLOW, {"input": flow_input})
        return str(data["create_flow"]["id"])

    def create_run(
        self,
        flow_id: str,
        *,
        labels: Sequence[str] | None = None,
        run_config: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        start_at: datetime | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        run_input: dict[str, Any] = {"flow_id": flow_id}
        if labels is not None:
            run_input["labels"] = list(labels)
        if run_config is not None:
            run_input["run_config"] = dict(run_config)
        if parameters is not None:
            run_input["parameters"] = dict(parameters)
        if start_at is not None:
            run_input["scheduled_start_time"] = start_at.astimezone(timezone.utc).isoformat()
        if name:
            run_input["flow_run_name"] = name
        if idempotency_key:
            run_input["idempotency_key"] = idempotency_key
        data = self.client.execute(
            CREATE_FLOW_RUN, {"input": run_input}, retry_safe=idempotency_key is not None
        )
        return str(data["create_flow_run"]["id"])

    def list_runs(
        self, *, limit: int = 20, states: Sequence[str] = (), labels: Sequence[str] = ()
    ) -> list[Mapping[str, Any]]:
        where: dict[str, Any] = {}
        if states:
            where["state"] = {"_in": list(states)}
        if labels:
            where["labels"] = {"_contains": list(labels)}
        data = self.client.execute(LIST_RUNS, {"where": where, "limit": limit})
        return list(data.get("flow_run") or [])

    def show_run(self, run_id: str) -> Mapping[str, Any]:
        run = self.client.execute(SHOW_RUN, {"id": run_id}).get("flow_run_by_pk")
        if not run:
            raise ApiError(f"No flow run with id {run_id} at {self.client.api}")
        return dict(run)

    def cancel_run(self, run_id: str) -> str:
        """Cancel a run that has not finished; returns the state it ends up in."""
        data = self.client.execute(CANCEL_RUN, {"input": {"flow_run_id": run_id}})
        return str((data.get("cancel_flow_run") or {}).get("state"))
