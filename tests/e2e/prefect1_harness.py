"""Prefect 1.4.1 as the client of the embedded API, and our agents running its flows.

Prefect 1.4.1 registers the flows and creates the runs with its own client, in its own venv
(``prefect_agent/examples/prefect1_register.py``); our CLI agents run them with Prefect's own
``prefect execute flow-run``. How a Prefect 1.4.1 process and our agents authenticate to the
embedded API is decided in one place: ``api_key_of`` below.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prefect_agent.examples import HERE as EXAMPLES
from prefect_agent.examples import REGISTER_SCRIPT
from prefect_agent.server.testing import RunningServer
from tests.agent_process import AgentProcess
from tests.polling import poll
from tests.prefect1.venv import Prefect1

FLOWS = Path(__file__).resolve().parent / "prefect1_flows"
"""Test flows (Prefect 1.4.1 scripts); the examples of ``prefect demo`` are in ``EXAMPLES``."""
MAPPED_FLOW = EXAMPLES / "mapped_flow.py"
RETRY_FLOW = EXAMPLES / "retry_flow.py"
FINISHED = frozenset({"Success", "Failed", "Cancelled"})


def api_key_of(api: RunningServer) -> str | None:
    """The key Prefect 1.4.1 processes and our agents present to this embedded API (None: it
    asks for none). Both get it only in their environment, never on a command line: Prefect
    1.4.1 sends ``PREFECT__CLOUD__API_KEY`` as ``Authorization: Bearer``, and so do our agents
    (the same variable, or ``--key``)."""
    key = getattr(api, "api_key", None)
    return str(key) if key else None


def prefect1_env(api: RunningServer, home: Path) -> dict[str, str]:
    """Prefect 1.4.1's configuration for a client of the embedded API, in a home of its own
    (no ~/.prefect/config.toml or backend.toml of the machine leaks in)."""
    env = {
        "HOME": str(home),
        "PREFECT__BACKEND": "server",
        "PREFECT__SERVER__ENDPOINT": api.url,
        "PREFECT__CLOUD__API": api.url,
        "PREFECT__CLOUD__SEND_FLOW_RUN_LOGS": "true",
    }
    key = api_key_of(api)
    if key:
        env["PREFECT__CLOUD__API_KEY"] = key
    return env


def flow_run_command(prefect1: Prefect1) -> str:
    """Prefect 1.4.1's default flow-run command, run by the Python that has Prefect 1.4.1.

    Our local agent (like Prefect 1.4.1's) runs ``<its own Python> -m prefect execute
    flow-run``; when Prefect 1.4.1 lives in another environment, ``--flow-run-command`` names
    that environment's Python."""
    return f"{prefect1.python} -m prefect execute flow-run"


class Prefect1Client:
    """Prefect 1.4.1's client, pointed at one embedded API."""

    def __init__(self, prefect1: Prefect1, api: RunningServer, home: Path) -> None:
        self.prefect1 = prefect1
        self.api = api
        home.mkdir(parents=True, exist_ok=True)
        self.env = prefect1_env(api, home)
        self._project_made = False

    def request(self, document: Mapping[str, Any], timeout: float = 180) -> dict[str, Any]:
        """Run the registration script with ``document``; its JSON answer."""
        document = dict(document)
        document.setdefault("project", "e2e")
        document.setdefault("create_project", not self._project_made)
        done = self.prefect1.run(
            [str(REGISTER_SCRIPT)], env=self.env, input=json.dumps(document), timeout=timeout
        )
        if done.returncode != 0:
            raise AssertionError(f"Prefect 1.4.1 failed:\n{done.stderr[-6000:]}")
        self._project_made = True
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return answer

    def register(
        self,
        path: Path,
        *,
        labels: Sequence[str] = (),
        run_config: Mapping[str, Any] | None = None,
        runs: Sequence[Mapping[str, Any]] = (),
    ) -> tuple[str, list[str]]:
        """Register one flow file; create ``runs`` of it. Returns the flow id and run ids."""
        spec = {
            "path": str(path),
            "labels": list(labels),
            "run_config": dict(run_config or {"type": "UniversalRun"}),
        }
        answer = self.request({"flows": [spec], "runs": [dict(run) for run in runs]})
        (flow_id,) = answer["flows"].values()
        return flow_id, answer["runs"]

    def cancel(self, run_id: str) -> bool:
        return bool(self.request({"cancel": [run_id]})["cancelled"][0])

    def bring_retries_forward(self, run_id: str) -> int:
        """Make the run's Retrying task runs due now, as if their delay had passed: Prefect
        1.4.1's client reads them and sets each a Retrying state starting now (same run
        count). Returns how many it moved."""
        code = f"""
import json, pendulum, prefect
from prefect.engine.state import Retrying
client = prefect.Client()
moved = 0
for task_run in client.get_flow_run_info({run_id!r}).task_runs:
    if isinstance(task_run.state, Retrying):
        state = Retrying(start_time=pendulum.now("utc"), run_count=task_run.state.run_count,
                         message="Retry brought forward by the test")
        client.set_task_run_state(task_run.id, state, version=task_run.version)
        moved += 1
print(json.dumps(moved))
"""
        return int(self.prefect1.json_of(code, env=self.env))


# -- reading what happened, through the API -------------------------------------------------


def task_runs(api: RunningServer, run_id: str) -> list[dict[str, Any]]:
    """The run's task runs as Prefect Server lists them: task name, map index, state."""
    data = api.graphql(
        "query($id: uuid!) { task_run(where: {flow_run_id: {_eq: $id}}) {"
        " map_index state serialized_state task { name } } }",
        {"id": run_id},
    )
    return sorted(data["task_run"], key=lambda t: (t["task"]["name"], t["map_index"]))


def log_text(api: RunningServer, run_id: str) -> str:
    return "\n".join(f"{log['level']} {log['message']}" for log in api.logs(run_id))


def finished(api: RunningServer, run_ids: Sequence[str]) -> bool:
    return all(api.state_of(run_id) in FINISHED for run_id in run_ids)


def describe(api: RunningServer, run_id: str) -> str:
    """Everything about a run, for assertion messages."""
    try:
        return (
            f"run {run_id}: history {api.history(run_id)}\n"
            f"task runs: {[(t['task']['name'], t['map_index'], t['state']) for t in task_runs(api, run_id)]}\n"  # noqa: E501
            f"logs:\n{log_text(api, run_id)}"
        )
    except Exception as exc:  # a description must never hide the real failure
        return f"run {run_id}: could not be described ({exc})"


# -- our agents, as the CLI runs them --------------------------------------------------------


def start_agent(
    kind: str,
    api: RunningServer,
    labels: Sequence[str],
    workdir: Path,
    *extra: str,
    name: str = "prefect1-e2e",
    env: Mapping[str, str] | None = None,
) -> AgentProcess:
    """``prefect agent <kind> start`` in a subprocess against the embedded API, with the
    key ``api_key_of`` says."""
    return AgentProcess(
        kind, api.url, workdir, *extra,
        labels=labels, name=name, api_key=api_key_of(api), env=env, home=workdir / "agent-home",
    )  # fmt: skip


class World:
    """One embedded API, Prefect 1.4.1's client of it, and one of our agents running its flows."""

    def __init__(
        self, api: RunningServer, client: Prefect1Client, agent: AgentProcess, workdir: Path
    ) -> None:
        self.api = api
        self.client = client
        self.agent = agent
        self.workdir = workdir

    def wait(self, run_ids: Sequence[str], deadline: float = 120.0) -> None:
        """Until every run has finished; on timeout, fail with each run's story and the
        agent's output."""
        try:
            self.agent.eventually(lambda: finished(self.api, run_ids), "the runs", deadline)
        except AssertionError as exc:
            stories = "\n\n".join(describe(self.api, run_id) for run_id in run_ids)
            raise AssertionError(f"runs did not finish:\n{stories}\n\n{exc}") from None

    def logs_with(self, run_id: str, *texts: str, deadline: float = 30.0) -> str:
        """The run's logs once they contain every text (Prefect 1.4.1 sends its log records
        in the background, some after the final state)."""
        found = ""

        def complete() -> bool:
            nonlocal found
            found = log_text(self.api, run_id)
            return all(text in found for text in texts)

        if poll(complete, deadline, step=0.1):
            return found
        missing = [text for text in texts if text not in found]
        raise AssertionError(f"logs of {run_id} lack {missing}:\n{describe(self.api, run_id)}")

    def expect(self, run_id: str, state: str) -> None:
        assert self.api.state_of(run_id) == state, describe(self.api, run_id)
