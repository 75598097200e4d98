"""``prefect demo`` with real Prefect 1.4.1 flows: registration and the task-run view.

Prefect 1.4.1 lives in an environment of its own (``scripts/prefect1-venv.sh``): its Python
registers the example flows (``prefect_agent/examples``) with Prefect's own client and runs
them (``<that python> -m prefect execute flow-run``, the agent's flow-run command).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prefect_agent.examples import DEMO_FLOWS, FAILING_FLOW, REGISTER_SCRIPT

PROJECT = "demo"


class Prefect1Unavailable(RuntimeError):
    """The given Python cannot run Prefect 1.4.1."""


def check_python(python: str) -> str:
    """The Prefect version ``python`` imports, or ``Prefect1Unavailable`` saying why not."""
    try:
        done = subprocess.run(
            [python, "-c", "import prefect; print(prefect.__version__)"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    except OSError as exc:
        raise Prefect1Unavailable(f"cannot run {python}: {exc.strerror or exc}") from exc
    version = done.stdout.strip()
    if done.returncode != 0 or not version.startswith("1."):
        detail = (done.stderr.strip().splitlines() or [version or "no output"])[-1]
        raise Prefect1Unavailable(f"{python} has no Prefect 1.x ({detail})")
    return version


def flow_run_command(python: str) -> tuple[str, ...]:
    """Prefect's default flow-run command, run by the Python that has Prefect 1.4.1."""
    return (python, "-m", "prefect", "execute", "flow-run")


def client_environment(api_url: str, home: str, api_key: str | None) -> dict[str, str]:
    """Prefect 1.4.1's configuration for a client of the embedded API, in a home of its own
    so the user's ~/.prefect (backend, Cloud key) does not redirect it. The key goes in the
    environment (Prefect sends it as a Bearer token), never on a command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
    env.update(
        HOME=home,
        PREFECT__BACKEND="server",
        PREFECT__SERVER__ENDPOINT=api_url,
        PREFECT__CLOUD__API=api_url,
    )
    if api_key:
        env["PREFECT__CLOUD__API_KEY"] = api_key
    return env


def register_examples(
    python: str,
    api_url: str,
    home: str,
    *,
    api_key: str | None,
    labels: Sequence[str],
    runs_each: int,
    with_failure: bool,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, str]:
    """Register the example flows and create their runs; returns run id -> run name."""
    flows = [*DEMO_FLOWS, *([FAILING_FLOW] if with_failure else [])]
    request = {
        "project": PROJECT,
        "flows": [
            {"path": str(path), "labels": list(labels), "run_config": {"type": "LocalRun"}}
            for path in flows
        ],
        "runs": [
            {"flow": name, "run_name": f"{name}-{index}", "parameters": params}
            for name, params in _flow_names(flows, parameters or {})
            for index in range(1, runs_each + 1)
        ],
    }
    done = subprocess.run(
        [python, str(REGISTER_SCRIPT)],
        input=json.dumps(request), env=client_environment(api_url, home, api_key),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise Prefect1Unavailable(f"Prefect 1.4.1 could not register the example flows:\n{tail}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    names = [run["run_name"] for run in request["runs"]]
    return dict(zip(answer["runs"], names, strict=True))


def _flow_names(
    flows: Sequence[Path], parameters: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, Mapping[str, Any] | None]]:
    """Each example's ``Flow("...")`` name (the file's own), with its run parameters."""
    named = []
    for path in flows:
        text = path.read_text()
        start = text.index('Flow("') + len('Flow("')
        name = text[start : text.index('"', start)]
        named.append((name, parameters.get(name)))
    return named


TASK_RUNS = (
    "query($ids: [uuid!]) { task_run(where: {flow_run_id: {_in: $ids}}) {"
    " flow_run_id map_index state task { name } } }"
)


class TaskRunView:
    """The task runs' states seen so far; ``changes`` returns what changed since last time."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, int], str] = {}

    def changes(self, api: Any, run_ids: Sequence[str]) -> list[tuple[str, str, str | None, str]]:
        """(flow run id, task label, previous state, state) for each change."""
        if not run_ids:
            return []
        rows = api.graphql(TASK_RUNS, {"ids": list(run_ids)})["task_run"]
        found = []
        for row in sorted(rows, key=lambda r: (r["task"]["name"], r["map_index"])):
            key = (row["flow_run_id"], row["task"]["name"], row["map_index"])
            previous = self._seen.get(key)
            if row["state"] and row["state"] != previous:
                self._seen[key] = row["state"]
                label = key[1] if key[2] < 0 else f"{key[1]}[{key[2]}]"
                found.append((key[0], label, previous, row["state"]))
        return found


__all__ = [
    "Prefect1Unavailable",
    "TaskRunView",
    "check_python",
    "flow_run_command",
    "register_examples",
]
