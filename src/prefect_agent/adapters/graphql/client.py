"""A Prefect GraphQL API client: headers, timeouts, retries, redirects, typed errors, over
an injectable ``Transport`` (kept-alive HTTP connections unless another is given).

The API key travels only in the ``Authorization`` header; it is never logged and never part
of an exception message (headers are not included in either).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

import attrs

from prefect_agent._version import __version__
from prefect_agent.adapters.graphql.documents import Operation
from prefect_agent.adapters.graphql.retry_policy import RetryPolicy
from prefect_agent.adapters.graphql.transport import (
    Answer,
    KeepAliveTransport,
    Transport,
    TransportError,
)
from prefect_agent.domain.agent_config import split_credentials, without_credentials
from prefect_agent.domain.errors import (
    ApiError,
    ApiUnavailable,
    AuthorizationError,
    RateLimited,
    VersionConflict,
)
from prefect_agent.domain.secret import Secret
from prefect_agent.domain.states import PREFECT_VERSION

logger = logging.getLogger(__name__)

VERSION_LOCKING_ERROR = "VERSION_LOCKING_ERROR"
USER_AGENT = f"prefect-agent/{__version__}"
MAX_REDIRECTS = 3
AUTH_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN"})
TRANSIENT_CODES = frozenset({"API_ERROR"})


@attrs.frozen
class GraphQLResponse:
    """A decoded answer: ``data`` (may be partial), the GraphQL ``errors``, and how many
    sends it took (more than one means an earlier send may have been applied too)."""

    data: Mapping[str, Any] | None
    errors: tuple[Mapping[str, Any], ...] = attrs.field(converter=tuple, default=())
    attempts: int = 1

    def errors_at(self, alias: str) -> list[Mapping[str, Any]]:
        return [e for e in self.errors if (e.get("path") or [None])[0] == alias]

    def unplaced_errors(self) -> list[Mapping[str, Any]]:
        return [e for e in self.errors if not e.get("path")]


def error_code(error: Mapping[str, Any]) -> str:
    extensions = error.get("extensions")
    return str(extensions.get("code", "")) if isinstance(extensions, Mapping) else ""


def error_for(errors: Sequence[Mapping[str, Any]], where: str) -> ApiError:
    """The typed error for a list of GraphQL errors (decided by code, not by text)."""
    messages = "; ".join(str(e.get("message", e)) for e in errors)
    codes = {error_code(e) for e in errors}
    if VERSION_LOCKING_ERROR in codes:
        return VersionConflict(messages)
    if codes & AUTH_CODES:
        return AuthorizationError(f"The Prefect API at {where} refused the credentials: {messages}")
    return ApiError(f"The Prefect API at {where} answered with errors: {messages}")


class GraphQLClient:
    """Sends documents to ``api`` through ``transport``, thread-safe for our use.

    Without a ``transport``, requests go over kept-alive HTTP connections
    (``KeepAliveTransport``); tests pass ``prefect_agent.testing.MockTransport``.
    ``attach_header`` adds headers to every later request (``X-PREFECT-AGENT-ID``).
    """

    def __init__(
        self,
        api: str,
        *,
        api_key: Secret | None = None,
        tenant_id: str | None = None,
        timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 32,
        transport: Transport | None = None,
    ) -> None:
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._api_key = api_key
        self._switching = threading.Lock()
        self._url = api.rstrip("/")
        """Where requests go, with any user:password (HTTP Basic credentials)."""
        if transport is None:
            # Retries are ours (RetryPolicy), so the transport never re-sends on its own.
            keep_alive = KeepAliveTransport(self._url, timeout=timeout, pool_size=pool_size)
            self.api = keep_alive.display_url
            transport = keep_alive
        else:
            self.api = without_credentials(self._url)
        """The API address as shown in messages (without any user:password)."""
        self._transport = transport
        self._headers: dict[str, str] = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-PREFECT-CORE-VERSION": PREFECT_VERSION,
        }
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key.reveal()}"
            if tenant_id:
                self._headers["X-PREFECT-TENANT-ID"] = tenant_id

    def __repr__(self) -> str:
        return f"GraphQLClient({self.api!r}, api_key={self._api_key!r})"

    @property
    def has_api_key(self) -> bool:
        return bool(self._api_key)

    def attach_header(self, name: str, value: str) -> None:
        self._headers[name] = value

    def set_tenant(self, tenant_id: str) -> None:
        if self._api_key:
            self._headers["X-PREFECT-TENANT-ID"] = tenant_id

    def close(self) -> None:
        self._transport.close()

    def execute(
        self,
        operation: Operation,
        variables: Mapping[str, Any] | None = None,
        *,
        retry_safe: bool | None = None,
    ) -> Mapping[str, Any]:
        """``data`` of a successful answer; GraphQL errors raise their typed error."""
        response = self.send(operation, variables, retry_safe=retry_safe)
        if response.errors:
            raise error_for(response.errors, self.api)
        if response.data is None:
            raise ApiError(f"The Prefect API at {self.api} returned no data for {operation.name}")
        return response.data

    def send(
        self,
        operation: Operation,
        variables: Mapping[str, Any] | None = None,
        *,
        retry_safe: bool | None = None,
    ) -> GraphQLResponse:
        """The decoded answer, partial data and per-field errors included.

        Transport failures, HTTP errors and errors of the whole request raise: ``ApiUnavailable``
        (unreachable, 5xx), ``RateLimited`` (429 after retries), ``AuthorizationError``
        (401/403), ``ApiError`` (anything else the server refused).
        """
        safe = operation.retry_safe if retry_safe is None else retry_safe
        body = json.dumps({"query": operation.text, "variables": dict(variables or {})}).encode()
        attempt = 0
        while True:
            attempt += 1
            try:
                http = self._post(body)
            except TransportError as exc:
                problem = self._describe(exc)
                if self.retry.can_retry(attempt) and (safe or not exc.sent):
                    self._wait(self.retry.backoff(attempt), operation, problem)
                    continue
                raise ApiUnavailable(problem) from None
            if http.status == 429:
                delay = self.retry.rate_limit_delay(http.headers.get("Retry-After"), attempt)
                if self.retry.can_retry(attempt):
                    self._wait(delay, operation, "HTTP 429 Too Many Requests")
                    continue
                raise RateLimited(
                    f"The Prefect API at {self.api} is rate limiting requests (HTTP 429)",
                    retry_after=delay,
                )
            if http.status in self.retry.retry_statuses:
                problem = f"The Prefect API at {self.api} answered HTTP {http.status}"
                if safe and self.retry.can_retry(attempt):
                    self._wait(self.retry.backoff(attempt), operation, problem)
                    continue
                raise ApiUnavailable(problem)
            response = self._decode(http)
            if {error_code(e) for e in response.errors} & TRANSIENT_CODES and response.data is None:
                problem = f"The Prefect API at {self.api} reported a transient API_ERROR"
                if safe and self.retry.can_retry(attempt):
                    self._wait(self.retry.backoff(attempt), operation, problem)
                    continue
                raise ApiUnavailable(problem)
            return attrs.evolve(response, attempts=attempt)

    def _post(self, body: bytes) -> Answer:
        """One send, following safe permanent redirects (a redirect means the request was
        refused, not applied, so the same request goes to the new address)."""
        redirects = 0
        while True:
            url = self._url
            http = self._transport.post(url, body, self._headers)
            if not 300 <= http.status < 400:
                return http
            self._follow(http, redirects, url)
            redirects += 1

    def _follow(self, http: Answer, redirects: int, sent_to: str) -> None:
        """Moves to the address of a permanent redirect that keeps the credentials safe (same
        scheme, host and port, or the upgrade of http:// to https:// on the default ports, as
        an ingress does), once for all later requests. Anything else is an error naming where
        the server pointed: the API key must not follow a redirect elsewhere."""
        with self._switching:
            if self._url != sent_to:
                return  # another thread followed this redirect already: resend
            location = http.headers.get("Location")
            target = urlsplit(urljoin(self.api + "/", location)) if location else None
            followable = (
                http.status in (301, 308)
                and target is not None
                and _keeps_credentials_safe(urlsplit(self.api), target)
                and redirects < MAX_REDIRECTS
            )
            if not followable:
                where = f" to {target.geturl()}" if target else ""
                raise ApiError(
                    f"The Prefect API at {self.api} answered HTTP {http.status}, a redirect"
                    f"{where}; set the API address to where it points"
                )
            assert target is not None
            self._switch_to(target, http.status)

    def _switch_to(self, target: SplitResult, status: int) -> None:
        # The target verbatim (servers canonicalise paths), with the same Basic credentials.
        shown = without_credentials(target.geturl())
        _, credentials, _ = split_credentials(self._url)
        head, _, rest = split_credentials(shown)
        moved = f"{head}{credentials}@{rest}" if credentials else shown
        logger.warning(
            "The Prefect API at %s moved permanently to %s (HTTP %s); using that address. "
            "Set it as the API address to skip the redirect.",
            self.api, shown, status,
        )  # fmt: skip
        self._url = moved
        self.api = shown

    def _decode(self, http: Answer) -> GraphQLResponse:
        if http.status in (401, 403):
            raise AuthorizationError(
                f"The Prefect API at {self.api} rejected the request (HTTP {http.status}); "
                "check the API key"
            )
        try:
            payload = json.loads(http.body)
        except ValueError:  # UnicodeDecodeError included
            raise ApiError(
                f"The Prefect API at {self.api} answered HTTP {http.status} "
                f"with a body that is not JSON: {http.body[:200].decode(errors='replace')!r}"
            ) from None
        if not isinstance(payload, Mapping):
            raise ApiError(f"The Prefect API at {self.api} answered with unexpected JSON")
        errors = payload.get("errors") or ()
        if http.status >= 400:
            if errors:
                raise error_for(errors, self.api)
            raise ApiError(f"The Prefect API at {self.api} answered HTTP {http.status}")
        data = payload.get("data")
        return GraphQLResponse(data=data if isinstance(data, Mapping) else None, errors=errors)

    def _describe(self, exc: TransportError) -> str:
        if exc.timed_out:
            return f"The Prefect API at {self.api} did not answer within {self.timeout}s"
        if not exc.sent:
            return f"Could not connect to the Prefect API at {self.api}: {exc}"
        return f"Request to the Prefect API at {self.api} failed: {exc}"

    def _wait(self, delay: float, operation: Operation, problem: str) -> None:
        logger.debug("%s; resending %s in %.2fs", problem, operation.name, delay)
        self._sleep(delay)


def _keeps_credentials_safe(old: SplitResult, new: SplitResult) -> bool:
    """Whether credentials may go along from ``old`` to ``new`` (the rule requests used)."""
    if old.hostname != new.hostname:
        return False
    ports = {"http": 80, "https": 443}
    old_port, new_port = old.port or ports.get(old.scheme), new.port or ports.get(new.scheme)
    if old.scheme == new.scheme:
        return old_port == new_port
    return (old.scheme, old_port, new.scheme, new_port) == ("http", 80, "https", 443)
