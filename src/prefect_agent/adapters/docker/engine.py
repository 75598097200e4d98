"""The connection to the Docker engine: created lazily, transport failures made typed.

The client is built on first use (``version="auto"`` asks the engine which API version to
speak), so an agent starts while the engine is down and connects once it is back. Any
transport failure becomes ``PlatformUnavailable``; the engine's own refusals (``APIError``)
pass through for the caller to turn into a run's failure.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import docker.errors
import requests.exceptions
from docker.api.client import APIClient
from docker.client import DockerClient

from prefect_agent.domain.errors import PlatformUnavailable

DEFAULT_SOCKET = "unix:///var/run/docker.sock"


def engine_url(
    base_url: str | None, environ: os._Environ[str] | dict[str, str] | None = None
) -> str:
    """``base_url``, else ``DOCKER_HOST`` (which Prefect 1.4.1 ignored), else the local socket."""
    env = os.environ if environ is None else environ
    return base_url or env.get("DOCKER_HOST") or DEFAULT_SOCKET


class DockerEngine:
    """Holds one docker-py ``APIClient``; ``api()`` returns it or raises ``PlatformUnavailable``."""

    def __init__(self, base_url: str | None, timeout: float) -> None:
        self.url = engine_url(base_url)
        self._from_env = base_url is None
        self._timeout = timeout
        self._client: APIClient | None = None
        self._lock = threading.Lock()

    def api(self) -> APIClient:
        with self._lock:
            if self._client is None:
                with self.translated("connect to"):
                    self._client = self._connect()
            return self._client

    def _connect(self) -> APIClient:
        if self._from_env:
            # from_env also honours DOCKER_TLS_VERIFY and DOCKER_CERT_PATH with DOCKER_HOST.
            return DockerClient.from_env(version="auto", timeout=self._timeout).api
        return APIClient(base_url=self.url, version="auto", timeout=self._timeout)

    def ping(self) -> None:
        api = self.api()
        with self.translated("reach"):
            api.ping()

    @contextlib.contextmanager
    def translated(self, doing: str) -> Iterator[None]:
        """Turn transport failures inside the block into ``PlatformUnavailable``."""
        try:
            yield
        except docker.errors.APIError:
            raise
        except (
            requests.exceptions.RequestException,
            docker.errors.DockerException,
            OSError,
        ) as exc:
            raise PlatformUnavailable(
                f"Cannot {doing} the Docker engine at {self.url}: {_short(exc)}"
            ) from exc

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def explanation(exc: docker.errors.APIError) -> str:
    """The engine's own message for a refused request."""
    detail: Any = exc.explanation or exc
    return str(detail).strip()
