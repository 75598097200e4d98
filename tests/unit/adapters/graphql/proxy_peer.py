"""A real forward proxy on loopback: CONNECT tunnels and absolute-form requests.

Every host name it is asked for resolves to 127.0.0.1 (so tests can use names that only the
proxy knows), it records each request line with its ``Proxy-Authorization`` header, and it
refuses requests without the expected credentials (HTTP 407), as a corporate proxy would.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import attrs

from tests.unit.adapters.graphql.scripted_api import serving


@attrs.define
class Seen:
    request_line: str
    authorization: str | None


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


class ForwardProxy:
    def __init__(self, required_authorization: str | None = None) -> None:
        self.seen: list[Seen] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                request_line = self.rfile.readline().decode("latin-1").strip()
                headers: dict[str, str] = {}
                while (line := self.rfile.readline().decode("latin-1").strip()) != "":
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                authorization = headers.get("proxy-authorization")
                proxy.seen.append(Seen(request_line, authorization))
                if required_authorization and authorization != required_authorization:
                    self.wfile.write(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
                    )
                    return
                method, target, _ = request_line.split(" ", 2)
                if method == "CONNECT":
                    _, _, port = target.rpartition(":")
                    self._tunnel(int(port))
                else:
                    self._forward(request_line, headers, target)

            def _tunnel(self, port: int) -> None:
                upstream = socket.create_connection(("127.0.0.1", port))
                self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self.wfile.flush()
                back = threading.Thread(target=_pipe, args=(upstream, self.connection), daemon=True)
                back.start()
                _pipe(self.connection, upstream)
                back.join(10)
                upstream.close()

            def _forward(self, request_line: str, headers: dict[str, str], target: str) -> None:
                # Absolute form: http://name:port/path, sent on to 127.0.0.1:port as origin form.
                rest = target.split("://", 1)[1]
                authority, _, path = rest.partition("/")
                port = int(authority.rpartition(":")[2]) if ":" in authority else 80
                body = self.rfile.read(int(headers.get("content-length", "0")))
                method, _, version = request_line.split(" ", 2)
                lines = [f"{method} /{path} {version}"]
                lines += [f"{k}: {v}" for k, v in headers.items() if k != "proxy-authorization"]
                with socket.create_connection(("127.0.0.1", port)) as upstream:
                    upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
                    upstream.shutdown(socket.SHUT_WR)
                    while data := upstream.recv(65536):
                        self.wfile.write(data)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def forward_proxy(required_authorization: str | None = None) -> Iterator[ForwardProxy]:
    proxy = ForwardProxy(required_authorization)
    with serving(proxy.server):
        yield proxy
