"""``HttpHealthReporter``: the HealthReporter port served over HTTP from a daemon thread.

``GET /api/health`` is liveness, ``GET /api/ready`` readiness, ``GET /api/poke`` wakes the
poll loop, ``GET /metrics`` is the Prometheus page (with the ``metrics`` extra installed).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from prefect_agent.adapters.health.error_kind import error_kind
from prefect_agent.adapters.health.health_state import HealthState, Probe
from prefect_agent.domain.agent_address import AgentAddress
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.operations_settings import OperationsSettings
from prefect_agent.domain.output_lines import Masker

logger = logging.getLogger(__name__)

SOCKET_TIMEOUT = 10.0
"""Seconds a health-server connection may stay silent before it is closed."""
MAX_CONNECTIONS = 32
"""Connections served at once; more wait in the listen queue (probes are quick)."""
MAX_REASON = 200
"""Free-text reasons (a platform's) are cut to this length in bodies."""

F = TypeVar("F", bound=Callable[..., None])


def _never_raises(method: F) -> F:
    """The port promises the agent that reporting never fails it."""

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            method(*args, **kwargs)
        except Exception:
            logger.debug("Health reporting failed in %s", method.__name__, exc_info=True)

    return guarded  # type: ignore[return-value]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class HttpHealthReporter:
    """Receives the agent's health facts and serves them on ``address``.

    ``now`` and ``monotonic`` must be the agent's clock (``Clock.now``, ``Clock.monotonic``)
    so probe ages agree with the poll loop's time; tests pass a ``FakeClock``'s. Ages are
    measured on the monotonic one. ``secrets`` are masked out of any free text
    before it is served, in case a platform error ever quoted one.
    """

    def __init__(
        self,
        address: AgentAddress,
        *,
        wake: Callable[[], None],
        operations: OperationsSettings | None = None,
        request_timeout: float = 15.0,
        agent_name: str = "agent",
        agent_type: str = "agent",
        secrets: Sequence[str] = (),
        now: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        poke_interval: float = 1.0,
    ) -> None:
        self.address = address
        self._wake = wake
        self._now = now
        self._monotonic = monotonic
        self._poke_interval = poke_interval
        self._last_poke: float | None = None
        self._poke_lock = threading.Lock()
        self._mask = Masker(secrets)
        self.state = HealthState(
            operations=operations or OperationsSettings(),
            request_timeout=request_timeout,
            started_at=monotonic(),
        )
        self.metrics = _metrics_or_none(agent_name, agent_type)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(
        cls,
        config: AgentConfig,
        wake: Callable[[], None],
        *,
        now: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> HttpHealthReporter:
        if config.agent_address is None:
            raise ConfigError(
                "is not set; the health server needs an address such as http://:8080",
                key="agent_address",
            )
        return cls(
            config.agent_address,
            wake=wake,
            operations=config.operations,
            request_timeout=config.request_timeout,
            agent_name=config.name,
            agent_type=config.kind.agent_type,
            secrets=config.secrets,
            now=now,
            monotonic=monotonic,
            poke_interval=config.operations.poke_interval_seconds,
        )

    # -- serving ------------------------------------------------------------------------

    def start(self) -> None:
        """Listen on the configured address (port 0 picks a free one; see ``bound_port``)."""
        if self._server is not None:
            return
        try:
            server = _Server(self.address, self)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {self.address}: {exc.strerror or exc}",
                key="agent_address",
                value=str(self.address),
            ) from None
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="health-server",
            daemon=True,
        )
        self._thread.start()
        logger.info("Health server listening on %s", self.url)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def bound_port(self) -> int:
        if self._server is None:
            raise RuntimeError("the health server is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """A URL that reaches the server from this machine (loopback when bound to all)."""
        host = self.address.host or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.bound_port}"

    def __enter__(self) -> HttpHealthReporter:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- probes -------------------------------------------------------------------------

    def liveness(self) -> Probe:
        return self.state.liveness(self._monotonic())

    def readiness(self) -> Probe:
        return self.state.readiness(self._monotonic())

    def poke(self) -> float:
        """Wake the poll loop, at most once per ``poke_interval``: 0.0 when it was woken,
        else the seconds until a poke is accepted again (each poke costs an API poll)."""
        with self._poke_lock:
            now = self._monotonic()
            if self._last_poke is not None and now - self._last_poke < self._poke_interval:
                return self._poke_interval - (now - self._last_poke)
            self._last_poke = now
        self._wake()
        return 0.0

    # -- the HealthReporter port ----------------------------------------------------------

    @_never_raises
    def poll_succeeded(self, at: datetime, runs_found: int, next_poll_in: float) -> None:
        self.state.poll_completed(self._monotonic(), next_poll_in=next_poll_in)
        if self.metrics:
            self.metrics.polls.labels(outcome="success").inc()
            self.metrics.runs_found.inc(runs_found)
            self.metrics.last_poll.set(self._now().timestamp())

    @_never_raises
    def poll_failed(self, at: datetime, error: BaseException, next_poll_in: float) -> None:
        kind = error_kind(error)
        self.state.poll_completed(self._monotonic(), next_poll_in=next_poll_in, error_kind=kind)
        if self.metrics:
            self.metrics.polls.labels(outcome="failure").inc()
            self.metrics.api_errors.labels(kind=kind).inc()
            self.metrics.last_poll.set(self._now().timestamp())

    @_never_raises
    def platform_checked(self, ok: bool, reason: str = "") -> None:
        self.state.platform_checked(ok, self._scrub(reason))

    @_never_raises
    def claims(self, won: int, lost: int) -> None:
        if self.metrics:
            self.metrics.claims.labels(result="won").inc(won)
            self.metrics.claims.labels(result="lost").inc(lost)

    @_never_raises
    def launched(self, run_id: str, lateness_seconds: float) -> None:
        if self.metrics:
            self.metrics.launches.inc()
            self.metrics.lateness.observe(max(0.0, lateness_seconds))

    @_never_raises
    def launch_failed(self, run_id: str, reason: str) -> None:
        if self.metrics:
            self.metrics.launch_failures.inc()

    @_never_raises
    def infrastructure_failed(self, run_id: str, reason: str) -> None:
        if self.metrics:
            self.metrics.infrastructure_failures.inc()

    @_never_raises
    def in_flight(self, count: int) -> None:
        if self.metrics:
            self.metrics.in_flight.set(count)

    @property
    def poke_interval(self) -> float:
        return self._poke_interval

    def _scrub(self, text: str) -> str:
        return self._mask(text)[:MAX_REASON]


def _metrics_or_none(agent_name: str, agent_type: str) -> Any:
    try:
        from prefect_agent.adapters.health.metrics import AgentMetrics
    except ImportError:
        logger.info("prometheus_client is not installed: /metrics is off (pip extra 'metrics')")
        return None
    return AgentMetrics(agent_name=agent_name, agent_type=agent_type)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: AgentAddress, reporter: HttpHealthReporter) -> None:
        # Bind exactly the configured host; "" is every interface, as in Prefect 1.
        if ":" in address.host:
            self.address_family = socket.AF_INET6
        self.reporter = reporter
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__((address.host, address.port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # A thread per connection, but never more than MAX_CONNECTIONS of them: the accept
        # loop waits for a slot, and later connections queue in the kernel's backlog.
        self._slots.acquire()
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


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "prefect-agent-health"
    sys_version = ""
    # A client that connects and says nothing (or reads nothing) holds a thread: not for long.
    timeout = SOCKET_TIMEOUT

    def do_GET(self) -> None:
        self._route(with_body=True)

    def do_HEAD(self) -> None:
        if self._path() == "/api/poke":
            self._not_allowed()  # HEAD must not have effects
        else:
            self._route(with_body=False)

    def do_POST(self) -> None:
        # Poking by POST is allowed for tools that refuse side effects on GET.
        if self._path() == "/api/poke":
            self._route(with_body=True)
        else:
            self._not_allowed()

    def _reject(self) -> None:
        self._not_allowed()

    do_PUT = do_DELETE = do_PATCH = _reject

    def _path(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    def _route(self, *, with_body: bool) -> None:
        reporter = self.server.reporter
        path = self._path()
        if path == "/api/health":
            self._probe(reporter.liveness(), with_body)
        elif path in ("/api/ready", "/api/readiness"):
            self._probe(reporter.readiness(), with_body)
        elif path == "/api/poke":
            try:
                wait = reporter.poke()
            except Exception:
                logger.exception("Waking the poll loop failed")
                self._json(500, {"status": "error", "reason": "could not wake the agent"}, True)
                return
            if wait > 0:
                self._json(
                    429,
                    {
                        "status": "too many pokes",
                        "reason": "the agent polls at most once per "
                        f"{reporter.poke_interval:g}s on request "
                        "(agent.operations.poke_interval_seconds)",
                    },
                    with_body,
                    {"Retry-After": str(max(1, math.ceil(wait)))},
                )
                return
            self._json(200, {"status": "poked"}, with_body)
        elif path == "/metrics":
            metrics = reporter.metrics
            if metrics is None:
                self._json(
                    501,
                    {"status": "unavailable", "reason": "install prefect-agent[metrics]"},
                    with_body,
                )
                return
            from prefect_agent.adapters.health.metrics import CONTENT_TYPE

            self._send(200, metrics.render(), CONTENT_TYPE, with_body)
        else:
            self._json(404, {"status": "not found", "reason": f"no endpoint {path}"}, with_body)

    def _not_allowed(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _probe(self, probe: Probe, with_body: bool) -> None:
        self._json(200 if probe.ok else 503, probe.body, with_body)

    def _json(
        self,
        status: int,
        body: dict[str, Any],
        with_body: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = (json.dumps(body, sort_keys=True) + "\n").encode()
        self._send(status, data, "application/json", with_body, headers)

    def _send(
        self,
        status: int,
        data: bytes,
        content_type: str,
        with_body: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if with_body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # Probes every few seconds would drown the agent's own log at INFO.
        logger.debug("health %s - %s", self.address_string(), format % args)
