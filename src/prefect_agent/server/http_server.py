"""The HTTP front of the embedded API: POST GraphQL at ``/`` (and ``/graphql``), GET health."""

from __future__ import annotations

import json
import logging
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prefect_agent.server.api import Api
from prefect_agent.server.faults import EXEMPT_HEADER, Fault, ServerFaults

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024
"""Largest request body accepted, as Prefect Server's gateway (5 MB)."""

GRAPHQL_PATHS = ("/", "/graphql", "/graphql/")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a client's session reuses its connection
    # Headers and body go out in two writes; without this Nagle + delayed ACK add 40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, status: int, message: str, code: str) -> None:
        # The body (if any) was not read, so this connection cannot carry another request.
        self.close_connection = True
        self._send(status, {"errors": [{"message": message, "extensions": {"code": code}}]})

    def _drop(self) -> None:
        """Close the connection without an answer (linger 0: the peer sees a reset)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _apply_fault(self, fault: Fault) -> bool:
        """Apply a fault that replaces the answer; True when the request is done with."""
        if fault.kind == "reset":
            self._drop()
            return True
        if fault.kind == "status":
            self.close_connection = True
            body = {"errors": [{"message": f"Injected fault: HTTP {fault.status}"}]}
            data = json.dumps(body).encode()
            self.send_response(fault.status)
            if fault.retry_after is not None:
                self.send_header("Retry-After", str(fault.retry_after))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            return True
        if fault.kind == "malformed":
            self.close_connection = True
            data = b"<html>not the API you are looking for"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return True
        if fault.kind == "delay":
            threading.Event().wait(fault.seconds)
        return False

    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if path == "/api/stats":
            self._send(200, self.server.api.stats.snapshot())
        elif path in ("", "/health", "/api/health"):
            self._send(200, {"status": "ok", "api": "prefect-agent embedded Prefect API"})
        else:
            self._send(404, {"errors": [{"message": f"No route {self.path}"}]})

    def do_POST(self) -> None:
        if self.path.split("?")[0] not in GRAPHQL_PATHS:
            self._refuse(404, f"No route {self.path}; POST GraphQL to /", "NOT_FOUND")
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self._refuse(411, "Content-Length is required", "BAD_REQUEST")
            return
        try:
            length = int(length_header)
        except ValueError:
            self._refuse(400, f"Invalid Content-Length {length_header!r}", "BAD_REQUEST")
            return
        if length < 0 or length > MAX_BODY_BYTES:
            self._refuse(
                413,
                f"Request body of {length} bytes exceeds the limit of {MAX_BODY_BYTES} bytes",
                "PAYLOAD_TOO_LARGE",
            )
            return
        body = self.rfile.read(length)
        exempt = EXEMPT_HEADER in self.headers
        fault = None if exempt else self.server.faults.next_fault()
        if fault is not None and self._apply_fault(fault):
            return
        try:
            status, response = self.server.api.handle(body, dict(self.headers.items()))
        except Exception:
            logger.exception("Unexpected error handling a request")
            status = 500
            response = {
                "errors": [{"message": "Internal server error", "extensions": {"code": "INTERNAL"}}]
            }
        if fault is not None and fault.kind == "lose_answer":
            self._drop()  # applied, but the client never hears of it
            return
        self._send(status, response)

    def do_PUT(self) -> None:
        self._refuse(405, "Method not allowed; POST GraphQL to /", "METHOD_NOT_ALLOWED")

    do_DELETE = do_PATCH = do_PUT


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: Api, faults: ServerFaults) -> None:
        self.api = api
        self.faults = faults
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer is routine; anything else is worth a traceback.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            logger.debug("Client %s went away: %s", client_address, error)
        else:
            logger.exception("Error serving a request from %s", client_address)


class ApiServer:
    """The embedded API listening on ``host:port`` (port 0 picks a free port).

    ``start()`` serves in a daemon thread; ``serve_forever()`` on the caller's thread;
    ``close()`` stops serving and closes the database. ``faults`` injects failures.
    """

    def __init__(self, api: Api, host: str = "127.0.0.1", port: int = 4200) -> None:
        self.api = api
        self.faults = ServerFaults()
        self._server = _Server((host, port), api, self.faults)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> ApiServer:
        # A short poll interval makes close() (and so each test's server) stop quickly.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"prefect-api-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        self.api.store.close()
