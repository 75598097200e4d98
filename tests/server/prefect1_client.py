"""Prefect 1.4.1 itself (its venv) as the client of an embedded API started in the test.

``Prefect1Client`` runs Prefect's CLI and Python snippets with the configuration a server
backend user has (``PREFECT__BACKEND=server`` and the API address), and runs a flow run as the
agents do: ``python -m prefect execute flow-run`` with the run's id in the environment and
Prefect's backend flow runner.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from prefect_agent.server.testing import RunningServer
from tests.prefect1.venv import Prefect1

FLOW_RUNNER = "prefect.engine.cloud.CloudFlowRunner"


class Prefect1Client:
    def __init__(self, prefect1: Prefect1, api: RunningServer, home: Path) -> None:
        self.prefect1 = prefect1
        self.api = api
        self.home = home
        self.env = {
            "PREFECT__BACKEND": "server",
            "PREFECT__SERVER__ENDPOINT": api.url,
            "PREFECT__CLOUD__API": api.url,
            "PREFECT__HOME_DIR": str(home / ".prefect"),
            "PREFECT__CLOUD__SEND_FLOW_RUN_LOGS": "true",
        }

    def run(
        self, args: list[str], *, env: dict[str, str] | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        return self.prefect1.run(
            args, env={**self.env, **(env or {})}, timeout=timeout, cwd=self.home
        )

    def cli(self, *args: str, timeout: float = 180) -> str:
        """``prefect ARGS``; its output, or a failure with both streams."""
        done = self.run(["-m", "prefect", *args], timeout=timeout)
        assert done.returncode == 0, (
            f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        )
        return done.stdout

    def python(self, code: str) -> Any:
        """Run a snippet that prints one JSON document; return it parsed."""
        done = self.run(["-c", textwrap.dedent(code)])
        assert done.returncode == 0, f"Prefect 1.4.1 snippet failed:\n{done.stderr[-4000:]}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    def write_flow(self, name: str, body: str) -> Path:
        """A flow file with Local storage that keeps it as a script (the flow process loads it
        again from this path). ``body`` defines ``flow`` and may use ``STORAGE``."""
        path = self.home / f"{name}.py"
        header = (
            "from prefect.storage import Local\n"
            "STORAGE = Local(path=__file__, stored_as_script=True)\n"
        )
        path.write_text(header + textwrap.dedent(body))
        return path

    def register(self, path: Path, project: str = "tests") -> str:
        """Register the flow of ``path`` with Prefect's ``flow.register()``; its flow id."""
        code = f"""
            import json, runpy
            from prefect import Client
            flow = runpy.run_path({str(path)!r})["flow"]
            try:
                Client().create_project({project!r})
            except Exception:
                pass
            print(json.dumps(flow.register(project_name={project!r}, no_url=True)))
        """
        return str(self.python(code))

    def create_flow_run(self, flow_id: str, **kwargs: Any) -> str:
        """``Client.create_flow_run(flow_id, **kwargs)``; the new run's id."""
        code = f"""
            import json
            from prefect import Client
            print(json.dumps(Client().create_flow_run(flow_id={flow_id!r}, **{kwargs!r})))
        """
        return str(self.python(code))

    def execute(self, flow_run_id: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run a flow run as an agent does: ``python -m prefect execute flow-run``."""
        env = {
            "PREFECT__CONTEXT__FLOW_RUN_ID": flow_run_id,
            "PREFECT__ENGINE__FLOW_RUNNER__DEFAULT_CLASS": FLOW_RUNNER,
        }
        return self.run(["-m", "prefect", "execute", "flow-run"], env=env, timeout=timeout)

    def full_env(self, **env: str) -> dict[str, str]:
        """The environment of a Prefect process started here (for ``subprocess.Popen``)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
        return {**base, **self.env, **env}

    def start(self, flow_run_id: str, **env: str) -> subprocess.Popen[str]:
        """``execute`` in the background (stop it with ``.kill()``/``.wait()``)."""
        full = self.full_env(
            PREFECT__CONTEXT__FLOW_RUN_ID=flow_run_id,
            PREFECT__ENGINE__FLOW_RUNNER__DEFAULT_CLASS=FLOW_RUNNER,
            **env,
        )
        return subprocess.Popen(
            [str(self.prefect1.python), "-m", "prefect", "execute", "flow-run"],
            env=full,
            cwd=self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    # -- reading the API -------------------------------------------------------------------

    def task_runs(self, flow_run_id: str) -> list[dict[str, Any]]:
        """Every task run of the flow run: task name, map index, state, name, version."""
        data = self.api.graphql(
            "query($id: uuid!) { task_run(where: {flow_run_id: {_eq: $id}}, "
            "order_by: [{map_index: asc}]) { id map_index state name version "
            "serialized_state task { name slug } } }",
            {"id": flow_run_id},
        )
        return list(data["task_run"])

    def task_states(self, flow_run_id: str) -> dict[tuple[str, int], str]:
        return {
            (t["task"]["name"], t["map_index"]): t["state"] for t in self.task_runs(flow_run_id)
        }
