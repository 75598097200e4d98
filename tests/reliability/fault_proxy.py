"""A fault-injecting HTTP proxy on loopback, placed between an agent and the embedded API.

Each request is forwarded, or not, according to a ``FaultPlan``: refused (the proxy stops
listening), reset, answered 5xx or 429 without reaching the API, delayed, answered with
malformed JSON, or forwarded and then its response lost (reset or garbled) after the API
applied it, the case that tests idempotency.
"""

from __future__ import annotations

import contextlib
import enum
import http.client
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class Fault(enum.Enum):
    PASS = "pass"
    RESET = "reset"  # connection reset before the API saw the request
    STATUS_500 = "500"
    STATUS_502 = "502"
    STATUS_503 = "503"
    RATE_LIMIT = "429"
    DELAY = "delay"  # forwarded after a delay
    MALFORMED = "malformed"  # 200 with a body that is not JSON, API never saw it
    LOST_RESPONSE = "lost-response"  # the API applied it; the reply is reset
    MALFORMED_RESPONSE = "malformed-response"  # the API applied it; the reply is garbled
    HELD_RESPONSE = "held-response"  # the API applied it; the reply waits for ``release``


BEFORE_API = (
    Fault.RESET,
    Fault.STATUS_500,
    Fault.STATUS_502,
    Fault.STATUS_503,
    Fault.RATE_LIMIT,
    Fault.DELAY,
    Fault.MALFORMED,
)
"""Faults where the API never sees the request (or sees it late)."""

AFTER_API = (Fault.LOST_RESPONSE, Fault.MALFORMED_RESPONSE)
"""Faults where the API applied the request but the agent never learns the answer."""


class FaultPlan:
    """Chooses the fault for each request: ``fixed`` or ``random`` with a seed."""

    def __init__(self, choose: Callable[[bytes], Fault]) -> None:
        self._choose = choose
        self._lock = threading.Lock()

    @classmethod
    def passthrough(cls) -> FaultPlan:
        return cls(lambda _body: Fault.PASS)

    @classmethod
    def fixed(cls, fault: Fault) -> FaultPlan:
        return cls(lambda _body: fault)

    @classmethod
    def random(cls, rate: float, faults: Sequence[Fault], seed: int = 8) -> FaultPlan:
        rng = random.Random(seed)

        def choose(_body: bytes) -> Fault:
            if rng.random() < rate:
                return rng.choice(list(faults))
            return Fault.PASS

        return cls(choose)

    def choose(self, body: bytes) -> Fault:
        with self._lock:
            return self._choose(body)


class FaultProxy:
    """Forwards POSTs to ``upstream`` (an ``http://host:port`` URL) under a ``FaultPlan``.

    ``down()`` stops listening and cuts open connections (clients get connection refused),
    ``up()`` listens again on the same port. ``stats`` counts requests by fault, and
    ``polls_passed`` counts ``get_runs_in_queue`` requests the API answered, so a test can
    see when polling resumed.
    """

    def __init__(self, upstream: str, plan: FaultPlan | None = None, delay: float = 0.5) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.upstream_path = parts.path or "/"
        self.plan = plan or FaultPlan.passthrough()
        self.delay = delay
        self.stats: Counter[str] = Counter()
        self.polls_passed = 0
        self.poll_passed = threading.Event()
        self._lock = threading.Lock()
        self._server: _ProxyServer | None = None
        self._port = 0
        self._connections: set[socket.socket] = set()
        self._busy: set[socket.socket] = set()
        self.released = threading.Event()
        """Set to let held responses go (as resets: the client that waited is gone)."""
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def up(self) -> None:
        if self._server is not None:
            return
        server = _ProxyServer(("127.0.0.1", self._port), self)
        self._port = server.server_address[1]
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self._server = server

    @property
    def is_down(self) -> bool:
        return self._server is None

    def down(self) -> None:
        """Stop listening and cut idle connections; requests in flight still complete.

        So every request the API applied is answered, and every later one is refused or
        reset before the API sees it: an outage, not a lost response (those are faults of
        their own, ``AFTER_API``).
        """
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            idle = self._connections - self._busy
        for conn in idle:
            _reset(conn)

    def close(self) -> None:
        self.released.set()
        self.down()

    def count(self, fault: Fault) -> None:
        with self._lock:
            self.stats[fault.value] += 1

    def track(self, conn: socket.socket, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
                self._busy.discard(conn)

    def busy(self, conn: socket.socket, busy: bool) -> bool:
        """Mark a connection busy with a request; False if the proxy is down (refuse it)."""
        with self._lock:
            if busy:
                if self._server is None:
                    return False
                self._busy.add(conn)
            else:
                self._busy.discard(conn)
            return True

    def forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            conn.request("POST", self.upstream_path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, data, response.getheader("Content-Type", "application/json")
        finally:
            conn.close()

    def note_poll(self, body: bytes, status: int) -> None:
        if status == 200 and b"get_runs_in_queue" in body:
            with self._lock:
                self.polls_passed += 1
            self.poll_passed.set()


def _reset(conn: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a crashed peer or a middlebox would."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    except OSError:
        pass


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, _Handler)


_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def setup(self) -> None:
        super().setup()
        self.server.proxy.track(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.proxy.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._reply(404, b"{}", "application/json")

    def do_POST(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if not proxy.busy(self.connection, True):
            self._reset()  # arrived on a kept-alive connection after the API went down
            return
        try:
            self._handle(proxy, body)
        finally:
            proxy.busy(self.connection, False)
            if proxy.is_down:
                self.close_connection = True

    def _handle(self, proxy: FaultProxy, body: bytes) -> None:
        fault = proxy.plan.choose(body)
        proxy.count(fault)
        if fault is Fault.RESET:
            self._reset()
        elif fault in (Fault.STATUS_500, Fault.STATUS_502, Fault.STATUS_503):
            self._reply(int(fault.value), b"<html>upstream trouble</html>", "text/html")
        elif fault is Fault.RATE_LIMIT:
            self._reply(
                429,
                b'{"errors": [{"message": "rate limited"}]}',
                "application/json",
                {"Retry-After": "1"},
            )
        elif fault is Fault.MALFORMED:
            self._reply(200, b'{"data": {"get_runs_in_q', "application/json")
        else:
            if fault is Fault.DELAY:
                threading.Event().wait(proxy.delay)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            try:
                status, data, content_type = proxy.forward(body, headers)
            except OSError:
                self._reset()
                return
            proxy.note_poll(body, status)
            if fault is Fault.HELD_RESPONSE:
                proxy.released.wait(120)
                self._reset()
            elif fault is Fault.LOST_RESPONSE:
                self._reset()
            elif fault is Fault.MALFORMED_RESPONSE:
                self._reply(200, data[: len(data) // 2] or b"{", content_type)
            else:
                self._reply(status, data, content_type)

    def _reply(
        self, status: int, data: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _reset(self) -> None:
        self.close_connection = True
        _reset(self.connection)
