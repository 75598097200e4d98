"""A kmock Kubernetes API emulator on a real HTTP port, and a test playing the Job controller.

kmock stores objects and streams watch events; ``VersionedEmulator`` adds what an API server's
watch cache does and the agent relies on: resource versions on lists and events, watches
resumed from a version (410 Gone once it left the kept history), bookmarks, ``timeoutSeconds``,
label selectors and ``limit``/``continue`` paging, plus an injected latency per request and
counts of requests and bytes per User-Agent (for the benchmarks).
"""

from __future__ import annotations

import asyncio
import collections
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import aiohttp.web
import pytest

kmock = pytest.importorskip("kmock", reason="kmock needs Python >= 3.11 (dev extra)")
from kmock._internal.k8s import KubernetesObjectNotFoundError  # noqa: E402
from kubernetes import client  # noqa: E402

NAMESPACE = "default"
CONTROLLER_AGENT = "job-controller"
HISTORY = 20_000
"""Watch events kept for resuming watches; an older resource version answers 410 Gone."""


def selector_matches(selector: str, labels: Mapping[str, str]) -> bool:
    """Equality and existence label selectors (``a=b``, ``a!=b``, ``a``, ``!a``), comma-joined."""
    for term in filter(None, (part.strip() for part in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value.lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _same(one: Any, other: Any) -> bool:
    """One kind of object (a status patch's resource compares unequal to its watch's)."""
    return (getattr(one, "group", None) or "", getattr(one, "plural", None)) == (
        getattr(other, "group", None) or "",
        getattr(other, "plural", None),
    )


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


class _EventSink:
    """Takes kmock's watch events for one resource: stamps a resource version on each, keeps
    it in the emulator's history and hands it to the open watches."""

    def __init__(self, emulator: VersionedEmulator, resource: Any) -> None:
        self.emulator = emulator
        self.resource = resource

    async def put(self, *events: dict[str, Any]) -> None:
        for event in events:
            self.emulator.record(self.resource, event)


class VersionedEmulator(kmock.KubernetesEmulator):  # type: ignore[misc]
    """kmock's emulator with resource versions, resumable watches, bookmarks, selectors,
    paging, latency and traffic counts (see the module docstring)."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._buses = _Sinks(self)
        self.version = 1
        self.oldest = 1
        self.history: collections.deque[tuple[int, Any, dict[str, Any]]] = collections.deque(
            maxlen=HISTORY
        )
        self.watchers: set[asyncio.Queue[Any]] = set()
        self.latency = 0.0
        self.bookmark_interval = 60.0
        self.refuse_watches = False
        self.requests: collections.Counter[str] = collections.Counter()
        self.actions: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.bytes_out: collections.Counter[str] = collections.Counter()
        self.bookmarks_sent = 0
        self.keep_requests = True
        """False forgets each request once answered: kmock matches every request against all
        recorded ones, which makes long benchmark runs quadratic (tests keep them to count)."""

    def record(self, resource: Any, event: dict[str, Any]) -> None:
        self.version += 1
        obj = json.loads(json.dumps(event["object"]))
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.version)
        stamped = {"type": event["type"], "object": obj}
        if len(self.history) == self.history.maxlen:
            self.oldest = self.history[0][0] + 1
        self.history.append((self.version, resource, stamped))
        for queue in self.watchers:
            queue.put_nowait((self.version, resource, stamped))

    def expire_history(self) -> None:
        """Forget every event so far, as a compacted watch cache does: watches resumed from
        an older version answer 410 Gone."""
        self.history.clear()
        self.oldest = self.version + 1

    def close_watches(self) -> None:
        """End every open watch stream, as an API server restart or a load balancer does."""
        for queue in self.watchers:
            queue.put_nowait(None)

    async def _handle(self, request: Any) -> Any:
        agent = request.headers.get("User-Agent", "?")
        self.requests[agent] += 1
        action = getattr(request.action, "value", str(request.action))
        plural = getattr(request.resource, "plural", None) or "?"
        self.actions[(agent, action.lower(), plural)] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.refuse_watches and request.action == kmock.action.WATCH:
            status = {"kind": "Status", "code": 503, "reason": "ServiceUnavailable"}
            return aiohttp.web.json_response(status, status=503)
        try:
            response = await super()._handle(request)
        finally:
            if not self.keep_requests:  # in flight, it must stay listed for kmock's matching
                self._requests[:] = [r for r in self._requests if r is not request]
        if request.action != kmock.action.WATCH:  # a watch counts its events as it sends them
            body = getattr(response, "body", None)
            sent = len(body) if isinstance(body, (bytes, bytearray)) else response.body_length
            self.bytes_out[agent] += sent or 0
        return response

    def _matching(self, request: Any) -> list[dict[str, Any]]:
        selector = request.params.get("labelSelector") or ""
        objects = [
            obj.raw
            for (resource, namespace, _), obj in self._objects.items()
            if resource == request.resource
            and (request.namespace is None or namespace == request.namespace)
            and not obj.deleted
        ]
        return [obj for obj in objects if selector_matches(selector, _labels(obj))]

    # kmock finds the object of a create, read, patch or delete by scanning every stored
    # object; these look it up by its key (the same answers, without the cost per object).

    def _stored(self, request: Any) -> Any:
        data = request.data if isinstance(request.data, dict) else {}
        metadata = data.get("metadata") or {}
        key = (
            request.resource,
            request.namespace or metadata.get("namespace"),
            request.name or metadata.get("name"),
        )
        return self._objects[key] if key in self._objects else None  # noqa: SIM401 (no .get)

    async def _serve_create(self, request: Any) -> Any:
        return self._stored(request).raw

    async def _serve_fetch(self, request: Any) -> Any:
        obj = self._stored(request)
        if obj is None or obj.deleted:
            raise KubernetesObjectNotFoundError()
        return obj.raw

    async def _serve_update(self, request: Any) -> Any:
        return self._stored(request).last.raw

    async def _serve_delete(self, request: Any) -> Any:
        return self._stored(request).last.raw

    async def _serve_list(self, request: Any) -> Any:
        async with self._lock:
            items = sorted(self._matching(request), key=lambda o: o["metadata"]["name"])
        version = str(self.version)
        token = request.params.get("continue") or ""
        if token:
            version, after = token.split(":", 1)
            items = [item for item in items if item["metadata"]["name"] > after]
        metadata: dict[str, Any] = {"resourceVersion": version}
        limit = int(request.params.get("limit") or 0)
        if limit and len(items) > limit:
            items = items[:limit]
            metadata["continue"] = f"{version}:{items[-1]['metadata']['name']}"
        return {"kind": "List", "apiVersion": "v1", "metadata": metadata, "items": items}

    async def _serve_watch(self, request: Any) -> AsyncIterator[Any]:
        yield b""
        params = request.params
        selector = params.get("labelSelector") or ""
        bookmarks = params.get("allowWatchBookmarks") == "true"
        timeout = float(params.get("timeoutSeconds") or 0) or None
        since = params.get("resourceVersion") or ""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self.watchers.add(queue)
        async for event in self._watch_events(request, queue, selector, bookmarks, timeout, since):
            self.bytes_out[request.headers.get("User-Agent", "?")] += len(json.dumps(event)) + 1
            yield event

    async def _watch_events(
        self,
        request: Any,
        queue: asyncio.Queue[Any],
        selector: str,
        bookmarks: bool,
        timeout: float | None,
        since: str,
    ) -> AsyncIterator[Any]:
        try:
            if since.isdigit() and int(since) > 0:
                if int(since) + 1 < self.oldest:
                    yield {"type": "ERROR", "object": {
                        "kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "reason": "Expired", "code": 410,
                        "message": f"too old resource version: {since} ({self.oldest - 1})",
                    }}  # fmt: skip
                    return
                last = int(since)
                for version, resource, event in list(self.history):
                    if version > last and _same(resource, request.resource):
                        if selector_matches(selector, _labels(event["object"])):
                            yield event
                        last = version
            else:
                async with self._lock:
                    current = self._matching(request)
                last = self.version
                for obj in current:
                    yield {"type": "ADDED", "object": obj}
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                wait = self.bookmark_interval if bookmarks else None
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    wait = left if wait is None else min(wait, left)
                try:
                    item = await asyncio.wait_for(queue.get(), wait)
                except asyncio.TimeoutError:
                    if bookmarks and (deadline is None or time.monotonic() < deadline):
                        self.bookmarks_sent += 1
                        yield {"type": "BOOKMARK", "object": {
                            "kind": "Job" if "job" in str(request.resource) else "Pod",
                            "apiVersion": "v1",
                            "metadata": {"resourceVersion": str(self.version)},
                        }}  # fmt: skip
                    continue
                if item is None:
                    return
                version, resource, event = item
                if version <= last or not _same(resource, request.resource):
                    continue
                last = version
                namespace = event["object"].get("metadata", {}).get("namespace")
                if namespace and request.namespace and namespace != request.namespace:
                    continue
                if selector_matches(selector, _labels(event["object"])):
                    yield event
        finally:
            self.watchers.discard(queue)


class _Sinks(dict):  # type: ignore[type-arg]
    """kmock's per-resource buses, replaced by sinks into the emulator's history."""

    def __init__(self, emulator: VersionedEmulator) -> None:
        super().__init__()
        self.emulator = emulator

    def __missing__(self, resource: Any) -> _EventSink:
        sink = _EventSink(self.emulator, resource)
        self[resource] = sink
        return sink


class Emulator:
    """kmock's KubernetesEmulator served from its own event loop thread.

    The real ``kubernetes`` client talks HTTP to ``url``. kmock has no controllers, so
    ``JobController`` below makes the pods, statuses and events a cluster would.
    """

    def __init__(self) -> None:
        self.url = ""
        self.handler: VersionedEmulator | Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="kmock", daemon=True)

    def _serve(self) -> None:
        async def main() -> None:
            async with VersionedEmulator() as handler, kmock.Server(handler) as server:
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

    def count(self, action: str, plural: str) -> int:
        """Requests of ``action`` (list, watch, create, ...) on ``plural`` so far, but for
        those of the test's ``JobController``."""
        counts = self.in_loop(lambda: dict(self.handler.actions))
        return sum(
            n
            for (agent, act, kind), n in counts.items()
            if (act, kind) == (action, plural) and agent != CONTROLLER_AGENT
        )

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
        api.user_agent = CONTROLLER_AGENT  # its requests are not the agent's (counts)
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
