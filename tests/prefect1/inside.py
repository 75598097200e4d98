"""Runs INSIDE the Prefect 1.4.1 venv (never imported by the test suite itself).

Reads a JSON list of requests on stdin and prints a JSON list of answers, one per request, so
a whole batch costs one interpreter start. Every answer is produced by Prefect 1.4.1's own
code: its serializers for run configs, storage and states, and its agents' builders for what
they would launch (their platform clients replaced by recorders; nothing is contacted).

Requests (``op``):

- ``run_config``: ``{cls, kwargs}`` -> ``{"value": <serialized>}`` or ``{"error": <text>}``
  when Prefect's own constructor refuses the combination.
- ``storage``: ``{cls, kwargs}`` -> ``{"value": <serialized storage>}``.
- ``flow_run``: ``{id, name, flow_id, flow_name, version, storage: {cls, kwargs},
  run_config: {cls, kwargs} | null}`` -> ``{"value": <flow_run row as the server returns it>}``.
- ``local``/``docker``/``kubernetes``: ``{agent: {...}, flow_run: <row>, environ: {...}}`` ->
  what that agent would launch: the local process environment; the Docker container's
  create_container/create_host_config arguments; the Kubernetes Job. Errors come back as
  ``{"error": <type>: <text>}``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any
from unittest import mock

import pendulum
import prefect
from prefect import run_configs, storage
from prefect.agent import Agent
from prefect.agent.docker import DockerAgent
from prefect.agent.kubernetes import KubernetesAgent
from prefect.agent.local import LocalAgent
from prefect.engine.state import Scheduled
from prefect.utilities.graphql import GraphQLResult

TENANT = "00000000-0000-4000-8000-00000000aaaa"


def _build(module: Any, spec: dict[str, Any]) -> Any:
    return getattr(module, spec["cls"])(**spec.get("kwargs", {}))


def run_config(req: dict[str, Any]) -> Any:
    return _build(run_configs, req).serialize()


def storage_of(req: dict[str, Any]) -> Any:
    built = _build(storage, req)
    if req.get("add_flow"):
        built.add_flow(prefect.Flow(req["add_flow"]))
    return built.serialize()


def flow_run(req: dict[str, Any]) -> Any:
    """A row of the agents' metadata query, made from a registered-flow serialization."""
    flow = prefect.Flow(req.get("flow_name", "fixture-flow"))
    flow.storage = _build(storage, req["storage"])
    if req.get("run_config"):
        flow.run_config = _build(run_configs, req["run_config"])
    serialized = flow.serialize()
    state = Scheduled(start_time=pendulum.datetime(2024, 1, 1, tz="UTC"))
    return {
        "id": req["id"],
        "version": req.get("version", 1),
        "state": "Scheduled",
        "serialized_state": state.serialize(),
        "parameters": {},
        "scheduled_start_time": "2024-01-01T00:00:00+00:00",
        "run_config": serialized["run_config"],
        "name": req.get("name", "fixture-run"),
        "labels": serialized["run_config"]["labels"] if serialized["run_config"] else [],
        "flow": {
            "id": req.get("flow_id", "f0000000-0000-4000-8000-000000000001"),
            "name": flow.name,
            "environment": serialized.get("environment"),
            "storage": serialized["storage"],
            "version": 1,
            "core_version": serialized["__version__"],
        },
        "task_runs": [],
    }


def _api_key_client(agent: Agent, api_key: str | None) -> None:
    agent.client.api_key = api_key
    agent.client._tenant_id = TENANT if api_key else None


def local(req: dict[str, Any]) -> Any:
    cfg = req["agent"]
    os.environ.clear()
    os.environ.update(req["environ"])
    agent = LocalAgent(
        labels=cfg.get("labels"),
        env_vars=cfg.get("env_vars"),
        import_paths=cfg.get("import_paths"),
        no_cloud_logs=cfg.get("no_cloud_logs"),
        hostname_label=False,
    )
    _api_key_client(agent, cfg.get("api_key"))
    row = GraphQLResult(req["flow_run"])
    launched: dict[str, Any] = {}

    def popen(args: list[str], **kwargs: Any) -> Any:
        launched.update(args=args, env=kwargs["env"], cwd=kwargs["cwd"])
        return mock.Mock(pid=1)

    with mock.patch("prefect.agent.local.agent.Popen", popen), mock.patch(
        "os.getcwd", return_value=req["cwd"]
    ):
        agent.deploy_flow(row)
    return launched


class _DockerRecorder:
    """Stands in for docker.APIClient: records what the agent asks for."""

    def __init__(self) -> None:
        self.calls: dict[str, Any] = {"pulls": [], "networks": []}

    def ping(self) -> bool:
        return True

    def version(self) -> dict[str, str]:
        return {"Version": "24.0.0"}

    def pull(self, image: str, **_: Any) -> list[str]:
        self.calls["pulls"].append(image)
        return []

    def inspect_volume(self, name: str) -> None:
        return None

    def create_host_config(self, **kwargs: Any) -> dict[str, Any]:
        self.calls["host_config"] = kwargs
        return kwargs

    def create_networking_config(self, value: Any) -> Any:
        return {"networks": sorted(value)}

    def create_endpoint_config(self) -> dict[str, Any]:
        return {}

    def create_container(self, image: str, **kwargs: Any) -> dict[str, str]:
        self.calls["container"] = {"image": image, **kwargs}
        return {"Id": "c0ffee"}

    def connect_container_to_network(self, container: Any, net_id: str) -> None:
        self.calls["networks"].append(net_id)

    def start(self, container: str) -> None:
        self.calls["started"] = container


def docker(req: dict[str, Any]) -> Any:
    cfg = req["agent"]
    recorder = _DockerRecorder()
    with mock.patch.object(DockerAgent, "_get_docker_client", lambda self: recorder):
        agent = DockerAgent(
            labels=cfg.get("labels"),
            env_vars=cfg.get("env_vars"),
            no_cloud_logs=cfg.get("no_cloud_logs"),
            no_pull=cfg.get("no_pull"),
            volumes=cfg.get("volumes"),
            networks=cfg.get("networks"),
            reg_allow_list=cfg.get("reg_allow_list"),
        )
    _api_key_client(agent, cfg.get("api_key"))
    agent.deploy_flow(GraphQLResult(req["flow_run"]))
    return recorder.calls


def kubernetes(req: dict[str, Any]) -> Any:
    cfg = req["agent"]
    os.environ.clear()
    os.environ.update(req["environ"])
    # KubernetesAgent.__init__ only adds its kubernetes clients to this, which
    # generate_job_spec never uses: build the base agent and set the job settings.
    agent = KubernetesAgent.__new__(KubernetesAgent)
    Agent.__init__(
        agent,
        labels=cfg.get("labels"),
        env_vars=cfg.get("env_vars"),
        no_cloud_logs=cfg.get("no_cloud_logs"),
    )
    agent.namespace = cfg.get("namespace") or "default"
    agent.service_account_name = cfg.get("service_account_name")
    agent.image_pull_secrets = cfg.get("image_pull_secrets")
    agent.job_template_path = cfg["job_template_path"]
    _api_key_client(agent, cfg.get("api_key"))
    return agent.generate_job_spec(GraphQLResult(req["flow_run"]))


OPS = {
    "run_config": run_config,
    "storage": storage_of,
    "flow_run": flow_run,
    "local": local,
    "docker": docker,
    "kubernetes": kubernetes,
}


def main() -> None:
    requests = json.load(sys.stdin)
    environ = dict(os.environ)
    answers = []
    for req in requests:
        try:
            answers.append({"value": OPS[req["op"]](req)})
        except Exception as exc:
            answers.append({"error": f"{type(exc).__name__}: {exc}"})
            if os.environ.get("PREFECT1_TRACE"):
                traceback.print_exc()
        finally:
            os.environ.clear()
            os.environ.update(environ)
    json.dump(answers, sys.stdout, default=str)


if __name__ == "__main__":
    main()
