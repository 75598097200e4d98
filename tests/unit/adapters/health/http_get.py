"""A tiny HTTP client for the health tests: status, headers and body of one request."""

from __future__ import annotations

import urllib.error
import urllib.request

import attrs


@attrs.frozen
class Reply:
    status: int
    body: str
    content_type: str


def request(url: str, method: str = "GET") -> Reply:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return Reply(resp.status, resp.read().decode(), resp.headers.get("Content-Type", ""))
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.read().decode(), err.headers.get("Content-Type", ""))
