"""Connections cannot pin the embedded API's threads (issue 15: 51 idle connections held 51
threads, forever)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from prefect_agent.server.request_limits import ConnectionLimits
from prefect_agent.server.testing import RunningServer, running_server
from tests.polling import eventually

CAP = 4


@pytest.fixture
def capped() -> Iterator[RunningServer]:
    limits = ConnectionLimits(max_connections=CAP, idle_timeout=1.0, request_timeout=1.0)
    with running_server(connections=limits) as server:
        yield server


def address(api: RunningServer) -> tuple[str, int]:
    host, port = api.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def server_threads() -> int:
    """Threads serving a connection (named after their target by ``threading``)."""
    return sum(1 for t in threading.enumerate() if "process_request_thread" in t.name)


def closed_by_server(sock: socket.socket) -> bytes | None:
    """What the server sent before closing ``sock``; None while it is still open."""
    sock.settimeout(0.01)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received or b"closed"


def hello(api: RunningServer) -> int:
    return requests.post(
        api.url, json={"query": "{ hello }"}, headers=api.auth_headers, timeout=10
    ).status_code


def test_idle_connections_are_capped_and_time_out(capped: RunningServer) -> None:
    api = capped
    before = server_threads()
    idle = [socket.create_connection(address(api), timeout=5) for _ in range(3 * CAP)]
    try:
        # Those over the cap are answered at once, naming the setting, and closed.
        turned_away = [eventually(lambda s=s: closed_by_server(s), "an answer") for s in idle[CAP:]]
        for answer in turned_away:
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503")
            assert b"Retry-After: 1" in head
            assert "max_connections" in json.loads(body)["errors"][0]["message"]
        assert server_threads() - before <= CAP
        # The idle ones within the cap are closed after idle_timeout, freeing their threads.
        for sock in idle[:CAP]:
            eventually(lambda s=sock: closed_by_server(s), "the idle timeout", deadline=10)
        eventually(lambda: hello(api) == 200, "the API to serve again", deadline=10)
    finally:
        for sock in idle:
            sock.close()


def test_a_request_that_stalls_mid_body_is_dropped(capped: RunningServer) -> None:
    api = capped
    host, port = address(api)
    with socket.create_connection((host, port), timeout=5) as stalled:
        stalled.sendall(
            (
                f"POST / HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {api.api_key}\r\n"
                'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"qu'
            ).encode()
        )
        eventually(lambda: closed_by_server(stalled), "the request timeout", deadline=10)
    assert hello(api) == 200


def test_kept_alive_clients_are_served_across_requests(capped: RunningServer) -> None:
    api = capped
    with requests.Session() as session:
        for _ in range(3 * CAP):
            response = session.post(
                api.url, json={"query": "{ hello }"}, headers=api.auth_headers, timeout=10
            )
            assert response.status_code == 200
