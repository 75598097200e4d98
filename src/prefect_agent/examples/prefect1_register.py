"""Register flows and create flow runs with Prefect 1.4.1's own client. Run by its Python.

Reads one JSON document on stdin, does what it asks in this order, and prints one JSON
document on stdout (everything Prefect prints goes to stderr)::

    {"project": "demo",                      # created first unless "create_project": false
     "flows": [{"path": "/abs/flow.py",      # the file defines ``flow``; stored as a script
                "labels": ["demo"],
                "run_config": {"type": "LocalRun", "env": {"K": "V"}},
                "schedule_active": true}],
     "runs": [{"flow": "mapped-squares", "parameters": {"count": 5}, "run_name": "r1"}],
                                             # (or "flow_id"; neither: the last flow registered)
     "cancel": ["<flow run id>"]}
    -> {"project_id": "...", "flows": {"mapped-squares": "<flow id>"}, "runs": ["<id>"],
        "cancelled": [true]}

The API, backend and key come from Prefect's own configuration (``PREFECT__CLOUD__API``,
``PREFECT__BACKEND``, ``PREFECT__CLOUD__API_KEY``). Flows use Local storage stored as a
script without the hostname label, so any agent whose labels match can run them from the
same path.
"""

import contextlib
import json
import sys

import prefect
from prefect import run_configs
from prefect.storage import Local
from prefect.utilities.storage import extract_flow_from_file


def register(spec: dict, client: "prefect.Client") -> dict:
    flow = extract_flow_from_file(file_path=spec["path"])
    flow.storage = Local(path=spec["path"], stored_as_script=True, add_default_labels=False)
    config = dict(spec.get("run_config") or {"type": "UniversalRun"})
    flow.run_config = getattr(run_configs, config.pop("type"))(**config)
    flow_id = flow.register(
        project_name=spec["project"],
        labels=spec.get("labels") or None,
        set_schedule_active=spec.get("schedule_active", True),
        no_url=True,
    )
    return {"name": flow.name, "id": flow_id}


def main() -> None:
    request = json.load(sys.stdin)
    answer: dict = {"flows": {}, "runs": [], "cancelled": []}
    with contextlib.redirect_stdout(sys.stderr):
        client = prefect.Client()
        project = request.get("project", "demo")
        if request.get("create_project", True):
            answer["project_id"] = client.create_project(project_name=project)
        last = None
        for spec in request.get("flows", ()):
            done = register({"project": project, **spec}, client)
            answer["flows"][done["name"]] = last = done["id"]
        for run in request.get("runs", ()):
            flow_id = run.get("flow_id") or answer["flows"].get(run.get("flow")) or last
            answer["runs"].append(
                client.create_flow_run(
                    flow_id=flow_id,
                    parameters=run.get("parameters"),
                    run_name=run.get("run_name"),
                )
            )
        for run_id in request.get("cancel", ()):
            answer["cancelled"].append(client.cancel_flow_run(run_id))
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
