"""``MockTransport``: the GraphQL client's transport answered by a function, with no socket.

In the spirit of httpx's ``MockTransport``: pass one to
``GraphQLClient(api, transport=MockTransport(handler))`` and the client's headers, retries,
redirects and error mapping run as they do over HTTP, against answers you choose::

    transport = MockTransport.scripted(MockAnswer.json({"data": {"hello": "hi"}}))
    client = GraphQLClient("http://api:4200", transport=transport)
    client.execute(documents.HELLO)
    transport.sent[0].json()["query"]
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import attrs


def _headers(given: Mapping[str, str] | http.client.HTTPMessage) -> http.client.HTTPMessage:
    if isinstance(given, http.client.HTTPMessage):
        return given
    message = http.client.HTTPMessage()
    for name, value in given.items():
        message[name] = value
    return message


@attrs.frozen
class SentRequest:
    """One POST the client sent: where to, its headers and its body."""

    url: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@attrs.frozen
class MockAnswer:
    """An HTTP answer; ``headers`` are read without regard to case, as over HTTP."""

    status: int = 200
    body: bytes = b""
    headers: http.client.HTTPMessage = attrs.field(
        factory=http.client.HTTPMessage, converter=_headers
    )

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> MockAnswer:
        """``payload`` as a JSON body (``{"data": ...}`` or ``{"errors": [...]}``)."""
        return cls(status, json.dumps(payload).encode(), _headers(headers or {}))


class MockTransport:
    """A ``Transport`` whose answers come from ``handler(request)``; ``sent`` records every
    request in order. Thread-safe. Failures to connect are not simulated: test those against
    a closed port."""

    def __init__(self, handler: Callable[[SentRequest], MockAnswer]) -> None:
        self._handler = handler
        self._lock = threading.Lock()
        self.sent: list[SentRequest] = []
        self.closed = False

    @classmethod
    def scripted(cls, *answers: MockAnswer, default: MockAnswer | None = None) -> MockTransport:
        """Answers ``answers`` in order, then ``default`` (``{"data": {}}`` unless given)."""
        queue = deque(answers)
        after = default or MockAnswer.json({"data": {}})
        lock = threading.Lock()

        def next_answer(_: SentRequest) -> MockAnswer:
            with lock:
                return queue.popleft() if queue else after

        return cls(next_answer)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> MockAnswer:
        request = SentRequest(url, dict(headers), body)
        with self._lock:
            self.sent.append(request)
        return self._handler(request)

    def close(self) -> None:
        self.closed = True
