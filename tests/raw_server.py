"""A raw TCP server for tests that need answers no HTTP library would send (dripping bytes,
lying lengths, endless headers)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

Handler = Callable[[socket.socket, bytes, threading.Event], None]
"""Called in a thread of its own for each connection with the first bytes of its request
(at most 64 KiB) and an event set when the server closes; the connection is closed after."""


class RawServer:
    """Listens on 127.0.0.1 (a free port) until ``close()``; ``url`` is its ``http://`` URL."""

    def __init__(self, handler: Handler) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)  # accept() wakes up to see ``stopped``
        self.handler = handler
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.handler(conn, conn.recv(65536), self.stopped)
        except OSError:
            pass  # the client went away: nothing to answer
        finally:
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.sock.close()
