"""A kmock Kubernetes API emulator on a real HTTP port, and a test playing the Job controller."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

kmock = pytest.importorskip("kmock", reason="kmock needs Python >= 3.11 (dev extra)")
from kubernetes import client  # noqa: E402

NAMESPACE = "default"


class Emulator:
    """kmock's KubernetesEmulator served from its own event loop thread.

    The real ``kubernetes`` client talks HTTP to ``url``. kmock has no controllers, so
    ``JobController`` below makes the pods, statuses and events a cluster would.
    """

    def __init__(self) -> None:
        self.url = ""
        self.handler: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="kmock", daemon=True)

    def _serve(self) -> None:
        async def main() -> None:
            async with kmock.KubernetesEmulator() as handler, kmock.Server(handler) as server:
                handler.resources.load_bundled()
                self.handler = handler
                self.url = str(server.url).rstrip("/")
                self._loop = asyncio.get_running_loop()
                self._stopped = asyncio.Event()
                self._ready.set()
                await self._stopped.wait()

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test that waits for readiness
            self._error = exc
            self._ready.set()

    def start(self) -> Emulator:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f"kmock did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=10)

    def in_loop(self, action: Callable[[], Any]) -> Any:
        """Run ``action`` on the emulator's loop (kmock's DSL is not thread-safe)."""
        assert self._loop is not None

        async def call() -> Any:
            return action()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def forbid(self, plural: str, group_version: str = "v1") -> None:
        """Answer every request on ``plural`` with 403 Forbidden, as RBAC would."""
        resource = kmock.resource(f"{group_version}/{plural}")
        error = kmock.KubernetesError(
            status=403, reason="Forbidden", message=f"{plural} is forbidden"
        )
        self.in_loop(lambda: self.handler[resource] << error)

    def requests_to(self, plural: str, group_version: str = "v1") -> int:
        resource = kmock.resource(f"{group_version}/{plural}")
        return int(self.in_loop(lambda: len(self.handler[resource])))

    def api_client(self) -> client.ApiClient:
        configuration = client.Configuration()
        configuration.host = self.url
        return client.ApiClient(configuration)


@contextmanager
def running_emulator() -> Iterator[Emulator]:
    emulator = Emulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()


class JobController:
    """Plays the Job controller and kubelet: makes pods, sets their phases, emits events."""

    def __init__(self, api: client.ApiClient, namespace: str = NAMESPACE) -> None:
        self.batch = client.BatchV1Api(api)
        self.core = client.CoreV1Api(api)
        self.namespace = namespace

    def jobs(self) -> list[dict[str, Any]]:
        response = self.batch.list_namespaced_job(self.namespace, _preload_content=False)
        items: list[dict[str, Any]] = json.loads(response.data)["items"]
        return items

    def jobs_of(self, run_id: str) -> list[dict[str, Any]]:
        return [
            job
            for job in self.jobs()
            if (job["metadata"].get("annotations") or {}).get("prefect-agent.io/flow-run-id")
            == run_id
        ]

    def job_of(self, run_id: str) -> dict[str, Any]:
        jobs = self.jobs_of(run_id)
        assert len(jobs) == 1, f"expected one job for run {run_id}, found {len(jobs)}"
        return jobs[0]

    def pods_of(self, run_id: str) -> list[dict[str, Any]]:
        """The pods whose template came from a Job of ``run_id`` (they outlive a deleted Job
        here: the emulator has no garbage collector)."""
        response = self.core.list_namespaced_pod(self.namespace, _preload_content=False)
        return [
            pod
            for pod in json.loads(response.data)["items"]
            if (pod["metadata"].get("labels") or {}).get("prefect.io/flow_run_id") == run_id
        ]

    def pod_name(self, job: dict[str, Any], attempt: int = 0) -> str:
        return f"{job['metadata']['name'][:50]}-p{attempt}"

    def make_pod(self, job: dict[str, Any], status: dict[str, Any], attempt: int = 0) -> str:
        """Create (or replace the status of) the job's pod from its template."""
        name = self.pod_name(job, attempt)
        template = job["spec"]["template"]
        labels = {**(template["metadata"].get("labels") or {}), "job-name": job["metadata"]["name"]}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": self.namespace, "labels": labels},
            "spec": template["spec"],
            "status": status,
        }
        try:
            self.core.create_namespaced_pod(self.namespace, pod, _preload_content=False)
        except client.ApiException as exc:
            if exc.status != 409:
                raise
            self.core.patch_namespaced_pod_status(
                name, self.namespace, {"status": status}, _preload_content=False
            )
        return name

    @staticmethod
    def _container(
        name: str, state: dict[str, Any], job: dict[str, Any], ready: bool = False
    ) -> dict[str, Any]:
        image = job["spec"]["template"]["spec"]["containers"][0]["image"]
        return {
            "name": name,
            "state": state,
            "ready": ready,
            "restartCount": 0,
            "image": image,
            "imageID": "",
        }

    def pull_error(self, job: dict[str, Any], reason: str = "ErrImagePull") -> str:
        message = f"failed to pull image: {reason}: no such host"
        return self.make_pod(
            job,
            {
                "phase": "Pending",
                "containerStatuses": [
                    self._container(
                        "flow", {"waiting": {"reason": reason, "message": message}}, job
                    )
                ],
            },
        )

    def run(self, job: dict[str, Any]) -> str:
        return self.make_pod(
            job,
            {
                "phase": "Running",
                "containerStatuses": [
                    self._container("flow", {"running": {}}, job, ready=True),
                ],
            },
        )

    def finish(self, job: dict[str, Any], code: int, reason: str | None = None) -> str:
        terminated: dict[str, Any] = {"exitCode": code}
        if reason:
            terminated["reason"] = reason
        pod = self.make_pod(
            job,
            {
                "phase": "Succeeded" if code == 0 else "Failed",
                "containerStatuses": [
                    self._container("flow", {"terminated": terminated}, job),
                ],
            },
        )
        status: dict[str, Any] = (
            {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
            if code == 0
            else {
                "failed": 1,
                "conditions": [
                    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}
                ],
            }
        )
        self.batch.patch_namespaced_job_status(
            job["metadata"]["name"], self.namespace, {"status": status}, _preload_content=False
        )
        return pod

    def event(self, pod: str, reason: str, message: str, type_: str = "Warning") -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{pod}.{reason.lower()}", "namespace": self.namespace},
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": self.namespace},
            "reason": reason,
            "message": message,
            "type": type_,
            "count": 1,
        }
        self.core.create_namespaced_event(self.namespace, body, _preload_content=False)
