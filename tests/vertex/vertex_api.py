"""A local HTTP stand-in for the five Vertex AI REST methods the Vertex platform uses.

``projects.locations.customJobs``: create, get, list (``filter`` of ``labels.KEY="VALUE"``
terms joined by AND), cancel and delete (of an ended job only), in the JSON the official
client's REST transport sends and parses. It runs no jobs: a test ends one with ``finish``.
Every request is recorded.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_JOBS = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+)/customJobs$")
_JOB = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+/customJobs/[^/:]+)(:cancel)?$")
_TERM = re.compile(r'^labels\.([A-Za-z0-9_-]+)\s*=\s*"([^"]*)"$')
TOKEN = "local-access-token"
TERMINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"}


class VertexApi:
    """The jobs and requests of one running stand-in; ``/token`` also answers OAuth
    refreshes, so Application Default Credentials can point their token_uri here."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.authorizations: set[str] = set()
        self.lock = threading.Lock()
        self.url = ""

    # -- what tests use ----------------------------------------------------------------------

    def jobs_of(self, run_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                j
                for j in self.jobs.values()
                if (j.get("labels") or {}).get("prefect-flow-run-id") == run_id
            ]

    def job_of(self, run_id: str) -> dict[str, Any]:
        (job,) = self.jobs_of(run_id)
        return job

    def finish(self, name: str, state: str, message: str = "", code: int = 0) -> None:
        with self.lock:
            job = self.jobs[name]
            job["state"] = state
            if message:
                job["error"] = {"code": code, "message": message}

    # -- the REST methods --------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        self.requests.append((method, path, body))
        jobs = _JOBS.match(path)
        if jobs and method == "POST":
            return self._create(jobs.group(1), body)
        if jobs and method == "GET":
            return self._list(jobs.group(1), (query.get("filter") or [""])[0])
        job = _JOB.match(path)
        if job:
            with self.lock:
                found = self.jobs.get(job.group(1))
                if found is None:
                    raise LookupError(job.group(1))
                if job.group(2) and method == "POST":
                    if found["state"] in TERMINAL:
                        raise PermissionError("job already ended")
                    found["state"] = "JOB_STATE_CANCELLED"
                    return {}
                if method == "DELETE":
                    if found["state"] not in TERMINAL:
                        raise PermissionError("job has not ended")
                    del self.jobs[job.group(1)]
                    # The long-running operation, already done.
                    return {"name": f"{job.group(1)}/operations/{uuid.uuid4().int % 10**18}",
                            "done": True}  # fmt: skip
                return found
        raise LookupError(path)

    def _create(self, parent: str, body: dict[str, Any]) -> dict[str, Any]:
        name = f"{parent}/customJobs/{uuid.uuid4().int % 10**18}"
        job = {**body, "name": name, "state": "JOB_STATE_PENDING"}
        with self.lock:
            self.jobs[name] = job
        return job

    def _list(self, parent: str, filter_text: str) -> dict[str, Any]:
        wanted = {}
        for term in filter(None, (t.strip() for t in filter_text.split(" AND "))):
            match = _TERM.match(term)
            if match is None:
                raise ValueError(f"unsupported filter term {term!r}")
            wanted[match.group(1)] = match.group(2)
        with self.lock:
            found = [
                job
                for name, job in self.jobs.items()
                if name.startswith(parent + "/")
                and all((job.get("labels") or {}).get(k) == v for k, v in wanted.items())
            ]
        return {"customJobs": found}


def _handler(api: VertexApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if parts.path == "/token":  # OAuth token endpoint of the test's ADC credentials
                self._answer(200, {"access_token": TOKEN, "expires_in": 3600})
                return
            api.authorizations.add(self.headers.get("Authorization") or "")
            body = json.loads(raw) if raw else None
            try:
                status, answer = 200, api.handle(method, parts.path, parse_qs(parts.query), body)
            except LookupError as exc:
                status, answer = 404, _error(404, "NOT_FOUND", f"not found: {exc}")
            except PermissionError as exc:
                status, answer = 400, _error(400, "FAILED_PRECONDITION", str(exc))
            except ValueError as exc:
                status, answer = 400, _error(400, "INVALID_ARGUMENT", str(exc))
            self._answer(status, answer)

        def _answer(self, status: int, answer: Any) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "status": status, "message": message}}


@contextlib.contextmanager
def running_vertex_api() -> Iterator[VertexApi]:
    api = VertexApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
