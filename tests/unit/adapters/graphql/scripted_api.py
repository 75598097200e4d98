"""A real HTTP server that answers with scripted responses and records what it received."""

from __future__ import annotations

import json
import socketserver
import ssl
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs


@attrs.define
class Reply:
    status: int = 200
    body: Any = attrs.field(factory=lambda: {"data": {"hello": "hi"}})
    headers: dict[str, str] = attrs.field(factory=dict)
    hold: threading.Event | None = None
    """When set, the reply waits for this event (to provoke a client read timeout)."""
    hang_up: bool = False
    """Close the connection after this reply without saying so (no ``Connection: close``),
    as a server whose keep-alive timeout expires does."""
    drop: bool = False
    """Close the connection after reading the request, without any answer."""


@attrs.define
class Received:
    headers: dict[str, str]
    body: dict[str, Any]
    path: str = "/"


class ScriptedApi:
    def __init__(self, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self.default = Reply()
        self.connections = 0
        self.closed = 0
        """Connections the server has closed."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                api.connections += 1
                super().setup()

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                api.received.append(Received(dict(self.headers.items()), body, self.path))
                reply = api.replies.popleft() if api.replies else api.default
                if reply.drop:
                    self.close_connection = True
                    return
                if reply.hold is not None:
                    reply.hold.wait(10)
                data = (
                    reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                )
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with suppress(OSError):  # the client may have given up (timeout tests)
                    self.wfile.write(data)
                if reply.hang_up:
                    self.close_connection = True

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def shutdown_request(self, request: Any) -> None:
                super().shutdown_request(request)
                api.closed += 1

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)


@contextmanager
def scripted_api(
    tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> Iterator[ScriptedApi]:
    """A running ``ScriptedApi``; with ``tls`` it speaks HTTPS, and ``host`` is the name its
    URL uses (one that only a proxy in the test resolves, for example)."""
    api = ScriptedApi(tls, host)
    with serving(api.server):
        yield api


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    """``server`` serving on a thread of its own for the duration of the block."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
