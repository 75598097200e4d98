"""The HTTP front of the embedded API: POST GraphQL at ``/`` (and ``/graphql``), GET health.

Every request passes the ``AccessPolicy`` (Host, Origin, API key, Content-Type) before its
body is read. Each connection holds a thread, so connections are capped and time out: idle
between requests after ``idle_timeout``, stalled within one after ``request_timeout``.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from prefect_agent.server.access import AccessPolicy, Refusal, generate_api_key, is_loopback
from prefect_agent.server.api import Api
from prefect_agent.server.faults import EXEMPT_HEADER, Fault, ServerFaults
from prefect_agent.server.request_limits import ConnectionLimits

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024
"""Largest request body accepted, as Prefect Server's gateway (5 MB)."""

GRAPHQL_PATHS = ("/", "/graphql", "/graphql/")
OPEN_PATHS = ("", "/health", "/api/health")
"""Answered without the API key (probes); the GraphQL endpoint and /api/stats need it."""


class _ThrottledWarnings:
    """At most one warning per kind every ``interval`` seconds, saying how many were held
    back: a flood of refused requests must not become a flood of log lines."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def warn(self, kind: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.interval:
                self._held[kind] = self._held.get(kind, 0) + 1
                return
            self._last[kind] = now
            held = self._held.pop(kind, 0)
        if held:
            message += f" ({held} more like it in the last {self.interval:.0f} s not logged)"
        logger.warning(message, *args)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a client's session reuses its connection
    # Headers and body go out in two writes; without this Nagle + delayed ACK add 40 ms.
    disable_nagle_algorithm = True
    server: _Server
    origin: str | None = None
    """The request's Origin when the policy allows it (answers then carry CORS headers)."""

    def handle_one_request(self) -> None:
        # Waiting for a request line is idleness; once one arrived, parse_request switches
        # to the (longer) per-request timeout.
        self.connection.settimeout(self.server.connections.idle_timeout)
        self.origin = None
        super().handle_one_request()

    def parse_request(self) -> bool:
        self.connection.settimeout(self.server.connections.request_timeout)
        return super().parse_request()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: Mapping[str, Any]) -> None:
        self._send_data(status, json.dumps(body, default=str).encode())

    def _send_data(
        self, status: int, data: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.origin is not None:
            self.send_header("Access-Control-Allow-Origin", self.origin)
            self.send_header("Vary", "Origin")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _refuse(
        self, status: int, message: str, code: str, headers: Mapping[str, str] | None = None
    ) -> None:
        # The body (if any) was not read, so this connection cannot carry another request.
        self.close_connection = True
        body = {"errors": [{"message": message, "extensions": {"code": code}}]}
        self._send_data(status, json.dumps(body).encode(), headers)

    def _admitted(self, *, needs_key: bool, json_body: bool = False) -> bool:
        """Whether the access policy lets this request through; if not, it is answered."""
        policy = self.server.access
        try:
            policy.check_host(self.headers)
            self.origin = policy.check_origin(self.headers)
            if needs_key:
                policy.check_key(self.headers)
            if json_body:
                policy.check_content_type(self.headers)
        except Refusal as refusal:
            self.server.warnings.warn(
                refusal.code,
                "Refused %s %s from %s: %s",
                self.command, self.path[:100], self.client_address[0], refusal,
            )  # fmt: skip
            challenge = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else None
            self._refuse(refusal.status, str(refusal), refusal.code, challenge)
            return False
        return True

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
        if not self._admitted(needs_key=path not in OPEN_PATHS):
            return
        if path == "/api/stats":
            self._send(200, self.server.api.stats.snapshot())
        elif path in OPEN_PATHS:
            self._send(200, {"status": "ok", "api": "prefect-agent embedded Prefect API"})
        else:
            self._send(404, {"errors": [{"message": f"No route {self.path}"}]})

    def do_POST(self) -> None:
        if self.path.split("?")[0] not in GRAPHQL_PATHS:
            self._refuse(404, f"No route {self.path}; POST GraphQL to /", "NOT_FOUND")
            return
        if not self._admitted(needs_key=True, json_body=True):
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
        api = self.server.api
        try:
            status, response = api.handle(body, dict(self.headers.items()))
            status, data = api.encode(status, response)
        except Exception:
            logger.exception("Unexpected error handling a request")
            status = 500
            error = {"message": "Internal server error", "extensions": {"code": "INTERNAL"}}
            data = json.dumps({"errors": [error]}).encode()
        if fault is not None and fault.kind == "lose_answer":
            self._drop()  # applied, but the client never hears of it
            return
        self._send_data(status, data)

    def do_OPTIONS(self) -> None:
        """A browser's CORS preflight: answered only for an allowed Origin."""
        if not self._admitted(needs_key=False):
            return
        if self.origin is None:
            self._refuse(405, "OPTIONS is only for CORS preflight requests", "METHOD_NOT_ALLOWED")
            return
        cors = {
            "Access-Control-Allow-Methods": "POST, GET",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": "600",
        }
        self._send_data(204, b"", cors)

    def do_PUT(self) -> None:
        self._refuse(405, "Method not allowed; POST GraphQL to /", "METHOD_NOT_ALLOWED")

    do_DELETE = do_PATCH = do_PUT


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        api: Api,
        faults: ServerFaults,
        access: AccessPolicy,
        connections: ConnectionLimits,
    ) -> None:
        self.api = api
        self.faults = faults
        self.access = access
        self.connections = connections
        self._slots = threading.BoundedSemaphore(connections.max_connections)
        self.warnings = _ThrottledWarnings()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._turn_away(request, client_address)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _turn_away(self, request: socket.socket, client_address: Any) -> None:
        """Answer 503 on the accepting thread (briefly: it must not stall accepting)."""
        limit = self.connections.max_connections
        self.warnings.warn(
            "TOO_MANY_CONNECTIONS",
            "Turned away a connection from %s: %s connections are open (max_connections)",
            client_address[0], limit,
        )  # fmt: skip
        message = f"Too many connections: {limit} are open (setting max_connections); retry shortly"
        body = json.dumps(
            {"errors": [{"message": message, "extensions": {"code": "TOO_MANY_CONNECTIONS"}}]}
        ).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        try:
            request.settimeout(0.5)
            request.sendall(head.encode() + body)
        except OSError:
            pass
        self.shutdown_request(request)

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
    ``access`` defaults to a policy with a newly generated key (read it from
    ``access.api_key``).
    """

    def __init__(
        self,
        api: Api,
        host: str = "127.0.0.1",
        port: int = 4200,
        *,
        access: AccessPolicy | None = None,
        connections: ConnectionLimits | None = None,
    ) -> None:
        self.api = api
        self.faults = ServerFaults()
        access = access or AccessPolicy(generate_api_key())
        if not is_loopback(host):
            # Reached from elsewhere, clients may name this machine by its host name.
            access = attrs.evolve(
                access, allowed_hosts=access.allowed_hosts | {socket.gethostname()}
            )
            _warn_beyond_loopback(host, access)
        self.access = access
        self._server = _Server(
            (host, port), api, self.faults, access, connections or ConnectionLimits()
        )
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


def _warn_beyond_loopback(host: str, access: AccessPolicy) -> None:
    if access.requires_key:
        logger.warning(
            "The Prefect API listens on %s, beyond this machine: anyone who can reach it and "
            "holds the API key can run code as the agents' user. Serve it over TLS (a reverse "
            "proxy) on networks you do not trust: the key travels in every request.",
            host,
        )
    else:
        logger.warning(
            "The Prefect API listens on %s, beyond this machine, WITHOUT an API key "
            "(--no-auth): anyone who can reach it can run code as the agents' user.",
            host,
        )
