"""``python -m prefect_agent.executor``: run the flow run named by the environment (an example)."""

from __future__ import annotations

import os
import sys
import time

from prefect_agent.executor.api_client import ApiCallFailed, ApiClient
from prefect_agent.executor.flow_run_api import FlowRunApi

LOG_NAME = "prefect-agent example executor"
EXIT_FAILED = 1
EXIT_UNUSABLE = 2


def _say(message: str) -> None:
    print(message, flush=True)


def main(environ: dict[str, str] | None = None) -> int:
    env = dict(os.environ if environ is None else environ)
    run_id = env.get("PREFECT__CONTEXT__FLOW_RUN_ID", "")
    api = env.get("PREFECT__CLOUD__API", "")
    if not run_id or not api:
        missing = [
            name
            for name, value in (
                ("PREFECT__CONTEXT__FLOW_RUN_ID", run_id),
                ("PREFECT__CLOUD__API", api),
            )
            if not value
        ]
        print(
            f"prefect_agent.executor: {' and '.join(missing)} not set; this example executor "
            "is meant to be started by an agent",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    client = ApiClient(
        api,
        api_key=env.get("PREFECT__CLOUD__API_KEY") or None,
        tenant_id=env.get("PREFECT__CLOUD__TENANT_ID") or None,
    )
    runs = FlowRunApi(client, run_id, LOG_NAME)
    try:
        return _execute(runs)
    except (ApiCallFailed, LookupError) as exc:
        print(f"prefect_agent.executor: flow run {run_id}: {exc}", file=sys.stderr, flush=True)
        return EXIT_FAILED


def _execute(runs: FlowRunApi) -> int:
    run = runs.read()
    runs.set_state("Running", "Running the example flow run", run.version)
    _say(f"Running example flow run {run.name}")
    runs.log(f"Example executor running flow run {run.name} (this is not Prefect core)")
    params = run.parameters
    seconds = float(params.get("seconds", 0) or 0)
    if seconds > 0:
        time.sleep(seconds)  # the example's stand-in for doing work
    crash_code = int(params.get("exit_code", 0) or 0)
    if crash_code:
        # A crash: no final state; the agent sees the exit code and fails the run.
        _say(f"Example flow run {run.name} crashing with exit code {crash_code} as asked")
        return crash_code
    current = runs.read()
    if params.get("fail"):
        message = str(params.get("message") or "The example flow run failed, as asked")
        runs.log(message, level="ERROR")
        runs.set_state("Failed", message, current.version)
        _say(f"Example flow run {run.name} failed")
        return EXIT_FAILED
    runs.set_state("Success", "The example flow run succeeded", current.version)
    runs.log("Example flow run finished successfully")
    _say(f"Example flow run {run.name} succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
