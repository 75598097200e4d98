"""Kubernetes at scale: a Job burst and thousands of running jobs watched, at 50 ms per request.

The API server is the tests' kmock emulator (``tests/kubernetes/emulator.py``, with resource
versions, resumable watches, bookmarks, selectors and paging) in a process of its own, each
request delayed by ``--latency``. Each agent runs in a process of its own too, so its CPU and
memory are its own, and the emulator counts its requests and bytes by User-Agent.

Prefect 1.4.1's KubernetesAgent cannot be pointed at the emulator here: its virtualenv has no
``kubernetes`` client (and it is used read-only). Its documented pattern is modelled with the
same ``kubernetes`` client instead (``Prefect1Model``): one create per run from a thread pool
of ``min(32, cpus + 4)`` workers, answers read into ``V1Job`` models as its client does; every
60 s (its heartbeat) ``manage_jobs``: the jobs listed 20 per page, then for each job not
finished one pod listing by its identifier label and one GraphQL flow-run-state query (counted,
not sent: there is no Prefect API in this benchmark). Each phase gets a fresh emulator.

Run alone: ``python -m benchmarks.kubernetes_scale [--quick]``; ``python -m benchmarks`` runs it
with ``--only kubernetes`` (or by default).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parent.parent
OURS_AGENT = "prefect-agent-bench"
THEIRS_AGENT = "prefect1-model-bench"
DRIVER_AGENT = "job-controller"
NAMESPACE = "default"
PREFECT1_HEARTBEAT = 60.0
PREFECT1_PAGE = 20


# -- the emulator process -------------------------------------------------------------------


def _serve(latency: float) -> None:
    """Child: serve the emulator, print its URL, answer ``stats`` lines on stdin."""
    sys.path.insert(0, str(ROOT))
    from tests.kubernetes.emulator import running_emulator

    with running_emulator() as emulator:
        emulator.handler.latency = latency
        emulator.handler.keep_requests = False
        print(emulator.url, flush=True)
        for line in sys.stdin:
            if line.strip() != "stats":
                break

            def stats() -> dict[str, Any]:
                return {
                    "requests": dict(emulator.handler.requests),
                    "bytes": dict(emulator.handler.bytes_out),
                }

            print(json.dumps(emulator.in_loop(stats)), flush=True)


class EmulatorProcess:
    def __init__(self, latency: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.kubernetes_scale", "serve", str(latency)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise RuntimeError(f"the emulator did not start: {self.url!r}")

    def stats(self, agent: str) -> tuple[int, int]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        data = json.loads(self.process.stdout.readline())
        return data["requests"].get(agent, 0), data["bytes"].get(agent, 0)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the agents (child processes) -----------------------------------------------------------


def _client(url: str, agent: str, pool: int | None = None) -> Any:
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = url
    if pool:
        configuration.connection_pool_maxsize = pool
    api = client.ApiClient(configuration)
    api.user_agent = agent
    return api


def _runs(count: int) -> list[Any]:
    from prefect_agent.domain.flow_run import FlowRun
    from prefect_agent.domain.run_config import KubernetesRun

    return [
        FlowRun(
            id=str(uuid.uuid4()),
            version=2,
            state="Submitted",
            flow_id=str(uuid.uuid4()),
            run_config=KubernetesRun(),
            core_version="1.4.1",
        )
        for _ in range(count)
    ]


class Ours:
    """prefect-agent's KubernetesPlatform, launched from a pool of ``deploy_concurrency``
    threads as the agent's launch pool does."""

    def __init__(self, url: str, concurrency: int | None = None) -> None:
        from prefect_agent.adapters.kubernetes.platform import KubernetesPlatform
        from prefect_agent.domain.agent_config import AgentConfig
        from prefect_agent.domain.kubernetes_settings import KubernetesSettings

        self.config = AgentConfig(
            name="bench", api="http://prefect-api:4200", platform=KubernetesSettings()
        )
        if concurrency:
            self.config = attrs.evolve(self.config, deploy_concurrency=concurrency)
        self.workers = self.config.deploy_concurrency
        api = _client(url, OURS_AGENT, pool=self.workers + 4)
        self.platform = KubernetesPlatform(self.config, api)

    def launch_all(self, count: int) -> float:
        from prefect_agent.domain.launch_spec import build_launch_spec

        runs = _runs(count)
        started = time.monotonic()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="launch") as pool:
            specs = (build_launch_spec(run, self.config, tenant_id=None) for run in runs)
            list(pool.map(self.platform.launch, runs, specs))
        return time.monotonic() - started

    def monitor(self, stop: threading.Event) -> dict[str, Any]:
        """Read outcomes every second (as the agent's monitor does) until ``stop``."""
        ended = 0
        while not stop.wait(1.0):
            ended += len(self.platform.outcomes())
        return {"outcomes": ended}


class Prefect1Model:
    """Prefect 1.4.1's KubernetesAgent pattern with the same client (module docstring)."""

    def __init__(self, url: str) -> None:
        from kubernetes import client

        self.workers = min(32, (os.cpu_count() or 1) + 4)
        api = _client(url, THEIRS_AGENT)
        self.batch = client.BatchV1Api(api)
        self.core = client.CoreV1Api(api)
        self.graphql_queries = 0
        self.pass_seconds: list[float] = []

    def _job(self, run: Any) -> dict[str, Any]:
        identifier = uuid.uuid4().hex[:8]
        labels = {"prefect.io/identifier": identifier, "prefect.io/flow_run_id": run.id}
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": f"prefect-job-{identifier}", "labels": labels},
            "spec": {
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {
                                "name": "flow",
                                "image": "prefecthq/prefect:1.4.1",
                                "args": ["prefect", "execute", "flow-run"],
                                "env": [
                                    {"name": "PREFECT__CLOUD__API", "value": "http://api:4200"},
                                    {"name": "PREFECT__CONTEXT__FLOW_RUN_ID", "value": run.id},
                                    {"name": "PREFECT__CONTEXT__FLOW_ID", "value": run.flow_id},
                                    {"name": "PREFECT__LOGGING__LOG_TO_CLOUD", "value": "true"},
                                ],
                            }
                        ],
                    },
                }
            },
        }

    def launch_all(self, count: int) -> float:
        runs = _runs(count)
        started = time.monotonic()
        with ThreadPoolExecutor(self.workers) as pool:
            # Answers deserialized into V1Job, as 1.4.1's call without _preload_content does.
            list(
                pool.map(
                    lambda run: self.batch.create_namespaced_job(NAMESPACE, self._job(run)), runs
                )
            )
        return time.monotonic() - started

    def manage_jobs(self, stop: threading.Event) -> None:
        started = time.monotonic()
        token = ""
        while not stop.is_set():
            jobs = self.batch.list_namespaced_job(
                NAMESPACE, label_selector="prefect.io/identifier", limit=PREFECT1_PAGE,
                _continue=token,
            )  # fmt: skip
            for job in jobs.items:
                if stop.is_set():
                    return
                self.graphql_queries += 1  # client.get_flow_run_state(flow_run_id)
                status = job.status
                if not (status and (status.failed or status.succeeded)):
                    identifier = job.metadata.labels.get("prefect.io/identifier")
                    self.core.list_namespaced_pod(
                        NAMESPACE, label_selector=f"prefect.io/identifier={identifier}"
                    )
            token = jobs.metadata._continue
            if not token:
                break
        self.pass_seconds.append(time.monotonic() - started)

    def monitor(self, stop: threading.Event) -> dict[str, Any]:
        while not stop.is_set():
            started = time.monotonic()
            self.manage_jobs(stop)
            stop.wait(max(0.0, PREFECT1_HEARTBEAT - (time.monotonic() - started)))
        return {
            "graphql_queries": self.graphql_queries,
            "heartbeat_pass_s": max(self.pass_seconds) if self.pass_seconds else None,
            "heartbeat_passes_completed": len(self.pass_seconds),
        }


def _agent(which: str, url: str, phase: str, count: int) -> None:
    """Child: one agent's phase; talks to the parent by lines on stdin/stdout."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.process_stats import cpu_seconds, memory_mib

    if which.startswith("ours"):
        agent: Ours | Prefect1Model = Ours(url, int(which[4:] or 0) or None)
    else:
        agent = Prefect1Model(url)
    cpu = cpu_seconds(os.getpid())
    seconds = agent.launch_all(count)
    result: dict[str, Any] = {
        "create_s": seconds,
        "jobs_per_s": count / seconds,
        "create_cpu_ms_per_job": (cpu_seconds(os.getpid()) - cpu) * 1000 / count,
        "launch_threads": agent.workers,
    }
    if phase == "monitor":
        print(json.dumps({"launched": True}), flush=True)
        sys.stdin.readline()  # the parent made the pods: the measured window starts
        stop = threading.Event()
        cpu = cpu_seconds(os.getpid())
        started = time.monotonic()
        threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
        result.update(agent.monitor(stop))
        minutes = (time.monotonic() - started) / 60
        result["cpu_s_per_min"] = (cpu_seconds(os.getpid()) - cpu) / minutes
        result.update(memory_mib(os.getpid()))
    print(json.dumps(result), flush=True)


class AgentProcess:
    def __init__(self, which: str, url: str, phase: str, count: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.kubernetes_scale", "agent", which, url, phase,
             str(count)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        text = self.process.stdout.readline()
        if not text:
            raise RuntimeError(f"the agent process ended (exit {self.process.wait()})")
        data: dict[str, Any] = json.loads(text)
        return data

    def tell(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def finish(self) -> dict[str, Any]:
        data = self.line()
        self.process.wait(60)
        return data


# -- the parent: phases and figures ----------------------------------------------------------


def _make_pods(url: str, workers: int = 32) -> int:
    """Play the Job controller once: a Running pod for every job (from its template)."""
    from kubernetes import client

    api = _client(url, DRIVER_AGENT, pool=workers + 4)
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    jobs = json.loads(batch.list_namespaced_job(NAMESPACE, _preload_content=False).data)["items"]

    def pod(job: dict[str, Any]) -> None:
        name = job["metadata"]["name"]
        template = job["spec"]["template"]
        labels = {**(template.get("metadata", {}).get("labels") or {}), "job-name": name}
        core.create_namespaced_pod(
            NAMESPACE,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"{name[:50]}-p0", "labels": labels},
                "spec": template["spec"],
                "status": {
                    "phase": "Running",
                    "containerStatuses": [{"name": "flow", "state": {"running": {}},
                                           "ready": True, "restartCount": 0, "image": "x",
                                           "imageID": ""}],
                },
            },
            _preload_content=False,
        )  # fmt: skip

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(pod, jobs))
    return len(jobs)


def _churn(url: str, stop: threading.Event, per_second: float) -> None:
    """Pods change while they run (kubelet status updates): ``per_second`` patches."""
    from kubernetes import client

    core = client.CoreV1Api(_client(url, DRIVER_AGENT))
    pods = [
        p["metadata"]["name"]
        for p in json.loads(core.list_namespaced_pod(NAMESPACE, _preload_content=False).data)[
            "items"
        ]
    ]
    rng = random.Random(1)
    while not stop.wait(1.0 / per_second):
        name = rng.choice(pods)
        core.patch_namespaced_pod_status(
            name,
            NAMESPACE,
            {"status": {"conditions": [{"type": "Ready", "status": "True",
                                        "lastProbeTime": time.time()}]}},
            _preload_content=False,
        )  # fmt: skip


def burst(which: str, count: int, latency: float) -> dict[str, Any]:
    emulator = EmulatorProcess(latency)
    try:
        agent = AgentProcess(which, emulator.url, "burst", count)
        result = agent.finish()
        agent_name = OURS_AGENT if which.startswith("ours") else THEIRS_AGENT
        requests, _ = emulator.stats(agent_name)
        result["requests_per_job"] = requests / count
        return result
    finally:
        emulator.close()


def running(which: str, count: int, seconds: float, latency: float) -> dict[str, Any]:
    emulator = EmulatorProcess(latency)
    agent_name = OURS_AGENT if which == "ours" else THEIRS_AGENT
    try:
        agent = AgentProcess(which, emulator.url, "monitor", count)
        agent.line()
        _make_pods(emulator.url)
        requests, sent = emulator.stats(agent_name)
        agent.tell()
        stop = threading.Event()
        churn = threading.Thread(target=_churn, args=(emulator.url, stop, 2.0), daemon=True)
        churn.start()
        started = time.monotonic()
        time.sleep(seconds)  # the measured window: the agent runs on its own
        requests_after, sent_after = emulator.stats(agent_name)
        minutes = (time.monotonic() - started) / 60
        stop.set()
        agent.tell()
        result = agent.finish()
        churn.join(10)
        result["requests_per_min"] = (requests_after - requests) / minutes
        result["kib_per_min"] = (sent_after - sent) / 1024 / minutes
        if "graphql_queries" in result:
            result["graphql_queries_per_min"] = result.pop("graphql_queries") / minutes
        result["rss_mib"] = result.pop("rss")
        result["peak_rss_mib"] = result.pop("peak")
        return {k: v for k, v in result.items() if k not in ("create_s", "jobs_per_s")}
    finally:
        emulator.close()


def _busy() -> tuple[float, float]:
    """The machine's busy and total CPU ticks so far (all cores)."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    return float(sum(fields) - fields[3] - fields[4]), float(sum(fields))


def measure(*, quick: bool, latency: float = 0.05) -> dict[str, dict[str, Any]]:
    """Both agents, phase by phase, alternating; per agent name, its figures by workload."""
    burst_count = 1000
    jobs, seconds = (5000, 120.0) if quick else (5000, 600.0)
    results: dict[str, dict[str, Any]] = {"ours": {}, "theirs": {}}
    for label, run, who in (
        ("k8s_burst_1000", lambda which: burst(which, burst_count, latency), ("ours", "theirs")),
        # The same burst with 64 launches in progress (deploy_concurrency = 64), ours only.
        ("k8s_burst_1000_c64", lambda which: burst("ours64", burst_count, latency), ("ours",)),
        ("k8s_running_5000", lambda which: running(which, jobs, seconds, latency),
         ("ours", "theirs")),
    ):  # fmt: skip
        for which in who:
            print(f"  kubernetes {label}: {which} ...", file=sys.stderr, flush=True)
            before = _busy()
            try:
                figures = run(which)
            except Exception as exc:  # one failed phase still leaves the others' figures
                figures = {"error": f"{type(exc).__name__}: {exc}"}
            after = _busy()
            total = after[1] - before[1]
            figures["machine_busy"] = (after[0] - before[0]) / total if total else math.nan
            results[which][label] = figures
    return results


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        _serve(float(args[1]))
        return 0
    if args[:1] == ["agent"]:
        _agent(args[1], args[2], args[3], int(args[4]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kubernetes_scale")
    parser.add_argument("--quick", action="store_true", help="2 minutes of 5000 jobs, not 10.")
    parser.add_argument("--latency", type=float, default=0.05, help="Seconds per request.")
    options = parser.parse_args(args)
    print(json.dumps(measure(quick=options.quick, latency=options.latency), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
