"""Reading a flow run and moving it through states, version-locked, with log lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from prefect_agent.executor.api_client import ApiClient

_RESULT = {"type": "NoResultType", "__version__": "1.4.1"}

READ_RUN = "query {{ flow_run_by_pk(id: {id}) {{ id name version state parameters }} }}"
SET_STATE = """
mutation ($input: set_flow_run_states_input!) {
  set_flow_run_states(input: $input) { states { id status message } }
}
"""
WRITE_LOGS = """
mutation ($input: write_run_logs_input!) {
  write_run_logs(input: $input) { success }
}
"""


def state_json(kind: str, message: str) -> dict[str, Any]:
    """A state in Prefect 1's serialized form (what the API stores and agents read)."""
    return {
        "type": kind,
        "message": message,
        "context": {},
        "cached_inputs": {},
        "_result": dict(_RESULT),
        "__version__": "1.4.1",
    }


@dataclass(frozen=True)
class RunView:
    id: str
    name: str
    version: int
    state: str
    parameters: dict[str, Any]


class FlowRunApi:
    """What the executor does to its run through the API."""

    def __init__(self, client: ApiClient, run_id: str, log_name: str) -> None:
        self._client = client
        self._run_id = run_id
        self._log_name = log_name

    def read(self) -> RunView:
        # Inline, as Prefect's own clients send this Hasura query (json.dumps quotes safely).
        data = self._client.execute(READ_RUN.format(id=json.dumps(self._run_id)))
        row = data.get("flow_run_by_pk")
        if not row:
            raise LookupError(f"flow run {self._run_id} does not exist")
        return RunView(
            id=str(row["id"]),
            name=str(row.get("name") or row["id"]),
            version=int(row["version"]),
            state=str(row.get("state") or ""),
            parameters=dict(row.get("parameters") or {}),
        )

    def set_state(self, kind: str, message: str, version: int) -> None:
        state = {
            "flow_run_id": self._run_id,
            "version": version,
            "state": state_json(kind, message),
        }
        self._client.execute(SET_STATE, {"input": {"states": [state]}})

    def log(self, message: str, level: str = "INFO") -> None:
        record = {
            "flow_run_id": self._run_id,
            "name": self._log_name,
            "message": message,
            "level": level,
        }
        self._client.execute(WRITE_LOGS, {"input": {"logs": [record]}})
