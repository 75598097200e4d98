"""``python -m benchmarks.mapped_flow``: a Prefect 1.4.1 flow with 1000 mapped tasks run through
the embedded API, against the same flow's ``flow.run()`` in-process (no API).

Through the API: the embedded API runs as ``prefect server start`` in a process of its own
(its CPU read from /proc), Prefect 1.4.1 registers the flow (``prefect_agent/examples/
mapped_flow.py``) and creates the run, and our local agent runs it with Prefect's own
``prefect execute flow-run``, wrapped by ``timed_command.py`` to measure that flow process.
The API's request counts come from its ``/api/stats``. Figures: wall times, the flow
process's CPU, the API's CPU in total, per request and per task-run state change, requests per
task run, and the target: API CPU under 20% of the flow process's CPU. Not a test: run it by
hand, the figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.process_stats import cpu_seconds
from prefect_agent.examples import HERE as EXAMPLES
from prefect_agent.examples import REGISTER_SCRIPT

ROOT = Path(__file__).resolve().parent.parent
TIMED_COMMAND = Path(__file__).resolve().parent / "timed_command.py"
FLOW = EXAMPLES / "mapped_flow.py"
LABEL = "bench-mapped"
TARGET_API_SHARE = 0.20
API_KEY = secrets.token_urlsafe(24)
"""The embedded API's key (the one place here): the API gets it in ``PREFECT__SERVER__API_KEY``,
Prefect 1.4.1 and the agent in ``PREFECT__CLOUD__API_KEY``, never on a command line. An API
that requires no key ignores it."""

IN_PROCESS = """
import json, resource, sys, time
from prefect.utilities.storage import extract_flow_from_file
flow = extract_flow_from_file(file_path=sys.argv[1])
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
wall, before = time.monotonic(), cpu()
state = flow.run(parameters={"count": int(sys.argv[2])})
print(json.dumps({"run_wall": time.monotonic() - wall, "run_cpu": cpu() - before,
                  "state": type(state).__name__}))
"""


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mapped_flow", description=__doc__)
    parser.add_argument("--tasks", type=int, default=1000, help="Mapped children (default 1000).")
    parser.add_argument(
        "--prefect1-venv",
        default=os.environ.get("PREFECT1_VENV", str(ROOT / ".venv-prefect1")),
        help="Virtualenv with prefect==1.4.1 (scripts/prefect1-venv.sh makes one).",
    )
    parser.add_argument("--json", type=Path, help="Also write the JSON results to this file.")
    return parser.parse_args(argv)


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
    env["HOME"] = str(home)
    return env


def in_process(python: str, tasks: int, home: Path) -> dict[str, Any]:
    """``flow.run()`` in a Prefect 1.4.1 process: wall and CPU of the run and the process."""
    started = time.monotonic()
    process = subprocess.Popen(
        [python, "-c", IN_PROCESS, str(FLOW), str(tasks)],
        env=_clean_env(home), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    out, _ = process.communicate(timeout=1800)
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    figures["process_wall"] = time.monotonic() - started
    return figures


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _graphql(url: str, query: str, variables: dict[str, Any]) -> Any:
    body = json.dumps({"query": query, "variables": variables}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Embedded-Api-Helper": "1",  # not counted in the API's request figures
        "Authorization": f"Bearer {API_KEY}",
    }
    request = urllib.request.Request(url, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    if answer.get("errors"):
        raise RuntimeError(json.dumps(answer["errors"])[:2000])
    return answer["data"]


def _wait(probe: Any, deadline: float, what: str) -> Any:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            value = probe()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.1)  # polling a process we started, with a deadline
    raise RuntimeError(f"timed out waiting for {what}")


def _prefect1(python: str, request: dict[str, Any], env: dict[str, str]) -> Any:
    """Prefect 1.4.1's client doing ``request`` (see prefect1_register.py); its answer."""
    done = subprocess.run(
        [python, str(REGISTER_SCRIPT)], input=json.dumps(request), env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"Prefect 1.4.1 failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def through_api(python: str, tasks: int, workdir: Path) -> dict[str, Any]:
    """The same flow registered by Prefect 1.4.1 and run by our local agent via the API."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    api = subprocess.Popen(
        [sys.executable, "-m", "prefect_agent", "server", "start", "--port", str(port),
         "--log-level", "warning"],
        env={**_clean_env(workdir), "PREFECT__SERVER__API_KEY": API_KEY},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    agent = None
    try:
        _wait(lambda: _get(f"{url}/health"), 30, "the embedded API")
        client_env = _clean_env(workdir / "client")
        client_env.update(
            PREFECT__BACKEND="server", PREFECT__CLOUD__API=url, PREFECT__SERVER__ENDPOINT=url
        )
        client_env["PREFECT__CLOUD__API_KEY"] = API_KEY
        request = {
            "project": "bench",
            "flows": [{"path": str(FLOW), "labels": [LABEL], "run_config": {"type": "LocalRun"}}],
        }
        (flow_id,) = _prefect1(python, request, client_env)["flows"].values()
        timings = workdir / "timings"
        timings.mkdir()
        agent = subprocess.Popen(
            [sys.executable, "-m", "prefect_agent", "agent", "local", "start", "--api", url,
             "--label", LABEL, "--no-hostname-label", "--state-dir", str(workdir / "state"),
             "--flow-run-command",
             f"{sys.executable} {TIMED_COMMAND} {timings} -- {python} -m prefect execute flow-run"],
            env={**_clean_env(workdir / "agent"), "PREFECT__CLOUD__API_KEY": API_KEY},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        stats_before = _get(f"{url}/api/stats")
        cpu_before = cpu_seconds(api.pid)
        started = time.monotonic()
        request = {"create_project": False, "project": "bench",
                   "runs": [{"flow_id": flow_id, "parameters": {"count": tasks}}]}  # fmt: skip
        (run_id,) = _prefect1(python, request, client_env)["runs"]

        def state() -> str | None:
            data = _graphql(url, "query($id: uuid!) { flow_run_by_pk(id: $id) { state } }",
                            {"id": run_id})  # fmt: skip
            found = data["flow_run_by_pk"]["state"]
            return found if found in ("Success", "Failed", "Cancelled") else None

        final = _wait(state, 3600, "the mapped run to finish")
        wall = time.monotonic() - started
        _wait(lambda: (timings / f"{run_id}.json").exists(), 60, "the flow process's timing")
        api_cpu = cpu_seconds(api.pid) - cpu_before
        stats_after = _get(f"{url}/api/stats")
        flow = json.loads((timings / f"{run_id}.json").read_text())
        task_runs = _graphql(
            url,
            "query($id: uuid!) { task_run(where: {flow_run_id: {_eq: $id}}) { id } }",
            {"id": run_id},
        )["task_run"]
    finally:
        for process in (agent, api):
            if process is not None:
                process.terminate()
                process.wait(30)
    total, requests = _request_counts(stats_before, stats_after)
    changes = requests.get("set_task_run_states", 0)
    return {
        "state": final,
        "wall": wall,
        "flow_process_wall": flow["wall"],
        "flow_process_cpu": flow["cpu"],
        "api_cpu": api_cpu,
        "requests": total,
        "requests_by_operation": requests,
        "task_runs": len(task_runs),
        "task_run_state_changes": changes,
        "api_cpu_ms_per_request": 1000 * api_cpu / total if total else None,
        "api_cpu_ms_per_task_run_state_change": 1000 * api_cpu / changes if changes else None,
        "requests_per_task_run": total / len(task_runs) if task_runs else None,
        "api_cpu_share_of_flow_cpu": api_cpu / flow["cpu"] if flow["cpu"] else None,
    }


def _request_counts(before: Any, after: Any) -> tuple[int, dict[str, int]]:
    """Requests served between two ``/api/stats`` answers: in all, and by root field (an
    aliased request counts once per field)."""
    old, new = before["fields"], after["fields"]
    fields = {k: int(new[k]) - int(old.get(k, 0)) for k in sorted(new)}
    return int(after["requests"]) - int(before["requests"]), {k: v for k, v in fields.items() if v}


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    python = str(Path(args.prefect1_venv) / "bin" / "python")
    if not Path(python).exists():
        print(f"no Prefect 1.4.1 venv at {args.prefect1_venv}: run scripts/prefect1-venv.sh",
              file=sys.stderr)  # fmt: skip
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-mapped-") as work:
        workdir = Path(work)
        print(f"flow.run() in-process, {args.tasks} mapped tasks ...", file=sys.stderr)
        local = in_process(python, args.tasks, workdir)
        print("through the embedded API and our local agent ...", file=sys.stderr)
        remote = through_api(python, args.tasks, workdir)
    results = {"tasks": args.tasks, "in_process": local, "through_api": remote}
    share = remote["api_cpu_share_of_flow_cpu"]
    results["target_met"] = share is not None and share < TARGET_API_SHARE
    print(_table(results))
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _table(results: dict[str, Any]) -> str:
    local, remote = results["in_process"], results["through_api"]
    rows = [
        ("flow.run() in-process: run wall / CPU", f"{local['run_wall']:.1f} s / {local['run_cpu']:.1f} s"),  # noqa: E501
        ("through the API: run created -> Success", f"{remote['wall']:.1f} s ({remote['state']})"),
        ("  flow process wall / CPU", f"{remote['flow_process_wall']:.1f} s / {remote['flow_process_cpu']:.1f} s"),  # noqa: E501
        ("  API CPU", f"{remote['api_cpu']:.2f} s"),
        ("  requests (per task run)", f"{remote['requests']} ({_num(remote['requests_per_task_run'])})"),  # noqa: E501
        ("  API CPU per request", f"{_num(remote['api_cpu_ms_per_request'])} ms"),
        ("  API CPU per task-run state change", f"{_num(remote['api_cpu_ms_per_task_run_state_change'])} ms"),  # noqa: E501
        ("  API CPU / flow process CPU (target < 20%)",
         f"{100 * (remote['api_cpu_share_of_flow_cpu'] or 0):.1f}% "
         f"({'met' if results['target_met'] else 'NOT met'})"),
    ]  # fmt: skip
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
