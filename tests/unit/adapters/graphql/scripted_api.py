"""A real HTTP server that answers with scripted responses and records what it received."""

from __future__ import annotations

import json
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


@attrs.define
class Received:
    headers: dict[str, str]
    body: dict[str, Any]


class ScriptedApi:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self.default = Reply()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                api.received.append(Received(dict(self.headers.items()), body))
                reply = api.replies.popleft() if api.replies else api.default
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)


@contextmanager
def scripted_api() -> Iterator[ScriptedApi]:
    api = ScriptedApi()
    thread = threading.Thread(
        target=api.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield api
    finally:
        api.server.shutdown()
        api.server.server_close()
