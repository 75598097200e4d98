"""A stand-in flow-run process for the kill-and-restart scenario (run as a script).

It records that it started (its run id, pid and argv, one line appended to the file named by
``RELIABILITY_MARKERS``), reports Running, lives ``RELIABILITY_CHILD_SECONDS``, then reports
Success to the API, as a flow process would. Standard library only: it runs under any Python.

With ``RELIABILITY_CHILD_FAILS`` set it reports nothing: it waits for the file named by
``RELIABILITY_GATE`` (when set) and exits with code 3, infrastructure failing before the flow
said anything. With ``RELIABILITY_IGNORE_SIGTERM`` set it ignores SIGTERM, so only SIGKILL
(after the agent's stop grace period) ends it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.request

SET_STATE = (
    "mutation($input: set_flow_run_states_input!) "
    "{ set_flow_run_states(input: $input) { states { id } } }"
)
READ = "query($id: uuid!) { flow_run_by_pk(id: $id) { version } }"


def graphql(api: str, query: str, variables: dict) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    headers = {"Content-Type": "application/json"}
    key = os.environ.get("PREFECT__CLOUD__API_KEY")
    if key:  # handed over by the agent, as to a Prefect flow process
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(api, body, headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def set_state(api: str, run_id: str, state: str) -> None:
    version = graphql(api, READ, {"id": run_id})["data"]["flow_run_by_pk"]["version"]
    graphql(
        api,
        SET_STATE,
        {
            "input": {
                "states": [
                    {
                        "flow_run_id": run_id,
                        "version": version,
                        "state": {"type": state, "message": f"{state}."},
                    }
                ]
            }
        },
    )


def main() -> None:
    run_id = os.environ["PREFECT__CONTEXT__FLOW_RUN_ID"]
    api = os.environ["PREFECT__CLOUD__API"]
    if os.environ.get("RELIABILITY_IGNORE_SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(os.environ["RELIABILITY_MARKERS"], "a") as markers:
        markers.write(json.dumps({"run_id": run_id, "pid": os.getpid(), "argv": sys.argv}) + "\n")
    if os.environ.get("RELIABILITY_CHILD_FAILS"):
        gate = os.environ.get("RELIABILITY_GATE")
        while gate and not os.path.exists(gate):
            time.sleep(0.05)  # a stand-in flow process waiting for the test's signal
        print(f"flow run {run_id} failing on purpose")
        sys.exit(3)
    set_state(api, run_id, "Running")
    threading.Event().wait(float(os.environ.get("RELIABILITY_CHILD_SECONDS", "1")))
    set_state(api, run_id, "Success")


if __name__ == "__main__":
    main()
