"""HTTP/1.1 POSTs to one API address over kept-alive connections, on ``http.client``.

Why not ``requests``: importing it (with urllib3, charset_normalizer, idna and certifi) took
about 45 ms of the agent's 0.18 s start and 7 MiB of its idle memory, for one POST per poll to
one address (docs/performance.md). The standard library's ``http.client`` speaks HTTP/1.1 with
keep-alive, TLS and CONNECT tunnels; this module adds the parts the agent relies on:

- a small pool of idle connections (threads send concurrently), each checked for a peer that
  hung up before it is reused;
- whether a failed request may have reached the server (``TransportError.sent``), which
  decides if a mutation may be re-sent (``RetryPolicy``);
- the environment's proxy (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, ``NO_PROXY`` with
  host names, domain suffixes, ports and IP ranges) and CA bundle (``REQUESTS_CA_BUNDLE``/
  ``CURL_CA_BUNDLE``, file or directory, besides OpenSSL's ``SSL_CERT_FILE``/``SSL_CERT_DIR``;
  certifi's bundle if installed and the system has none), as ``requests`` honoured them, so
  agents set up for Prefect 1 keep working;
- ``user:password@`` in the API address as HTTP Basic credentials, never sent in the request
  line and never shown (``display_url``).

Re-sending is not done here: retries belong to the caller's policy.
"""

from __future__ import annotations

import base64
import http.client
import os
import select
import socket
import ssl
import threading
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import SplitResult, unquote, urlsplit

import attrs

from prefect_agent.domain.agent_config import split_credentials
from prefect_agent.domain.errors import ConfigError

DEFAULT_PORTS = {"http": 80, "https": 443}


class TransportError(Exception):
    """No HTTP answer. ``sent``: the request may have reached the server (so a mutation may
    have been applied); ``timed_out``: the server took longer than the timeout."""

    def __init__(self, message: str, *, sent: bool, timed_out: bool = False) -> None:
        super().__init__(message)
        self.sent = sent
        self.timed_out = timed_out


class Headers(Protocol):
    def get(self, name: str) -> str | None:
        """The value of header ``name``, whatever its case."""


class Answer(Protocol):
    """An HTTP answer as the GraphQL client reads it."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Headers: ...

    @property
    def body(self) -> bytes: ...


class Transport(Protocol):
    """What sends the GraphQL client's requests: one POST at a time, the answer or a
    ``TransportError``; never a re-send (retries are the client's ``RetryPolicy``).

    ``KeepAliveTransport`` is the real one; ``prefect_agent.testing.MockTransport`` answers
    from a function, with no socket.
    """

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST ``body`` to ``url`` (which may hold ``user:password@``: Basic credentials)."""

    def close(self) -> None:
        """Release connections; the client is done."""


@attrs.frozen
class HttpAnswer:
    status: int
    headers: http.client.HTTPMessage = attrs.field(repr=False)
    """Case-insensitive: ``headers.get("retry-after")``."""
    body: bytes = attrs.field(repr=False)


@attrs.frozen
class Proxy:
    host: str
    port: int
    authorization: str | None = attrs.field(default=None, repr=False)
    """``Proxy-Authorization`` value from the proxy address's user:password (a secret)."""


def _host_port(parts: SplitResult, source: str) -> tuple[str, int]:
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("the address has an invalid port", source=source) from None
    if not parts.hostname:
        raise ConfigError("the address has no host name", source=source)
    return parts.hostname, port or DEFAULT_PORTS.get(parts.scheme, 80)


def _in_network(host: str, entry: str) -> bool:
    """Whether ``host`` is an IP address inside ``entry`` (an address or a CIDR range)."""
    import ipaddress  # only when NO_PROXY lists addresses: it is not needed at start-up

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` (comma-separated host names, domain suffixes with or without a
    leading dot, optional ``:port``, IP addresses or CIDR ranges, ``*`` for all) says to
    connect to ``host`` directly. Loopback never goes through a proxy."""
    host = host.lower()
    if host in ("localhost", "127.0.0.1", "::1"):
        return True
    is_address = ":" in host or host.replace(".", "").isdigit()
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*" or (is_address and _in_network(host, entry.strip("[]"))):
            return True
        name, _, entry_port = entry.partition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def proxy_for(url: SplitResult, environ: Mapping[str, str]) -> Proxy | None:
    """The proxy the environment sets for ``url``: the scheme's ``*_PROXY`` variable (lower
    case first), else ``ALL_PROXY``, unless ``NO_PROXY`` matches (as curl and ``requests``
    read them, except that loopback is never proxied and suffixes match whole labels).
    A malformed proxy address raises ``ConfigError`` naming the variable (never its value,
    which may hold a password)."""

    def variable(name: str) -> tuple[str, str]:
        # The lower-case spelling wins, even empty (which turns a proxy off, as in urllib).
        for spelled in (name.lower(), name.upper()):
            if spelled in environ:
                return spelled, environ[spelled]
        return name.upper(), ""

    source, address = variable(f"{url.scheme}_proxy")
    if not address:
        source, address = variable("all_proxy")
    if not address:
        return None
    host, port = _host_port(url, "the Prefect API address")
    if _bypassed(host, port, variable("no_proxy")[1]):
        return None
    if "://" not in address:
        address = "http://" + address
    parts = urlsplit(address)
    source = f"env {source}"
    if parts.scheme != "http":
        raise ConfigError(
            f"proxies reached over {parts.scheme}:// are not supported; give an http:// proxy "
            "address (an https API is still reached through a TLS tunnel)",
            source=source,
        )
    proxy_host, proxy_port = _host_port(parts, source)
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode()
    return Proxy(proxy_host, proxy_port, authorization)


def tls_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    """Certificate checks on, with the bundle ``requests`` would use if one is set (a file or
    a directory of hashed certificates), else the system's CAs, else certifi's if installed."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        bundle = environ.get(name)
        if bundle:
            is_dir = os.path.isdir(bundle)
            try:
                return ssl.create_default_context(
                    cafile=None if is_dir else bundle, capath=bundle if is_dir else None
                )
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"cannot load the CA bundle {bundle!r} ({exc})", source=f"env {name}"
                ) from None
    context = ssl.create_default_context()
    paths = ssl.get_default_verify_paths()
    if not any(p and os.path.exists(p) for p in (paths.cafile, paths.capath)):
        # No system store (some minimal images, python.org macOS builds): requests relied
        # on certifi, so use it when it is installed rather than fail every request.
        try:
            import certifi
        except ImportError:
            return context
        context.load_verify_locations(cafile=certifi.where())
    return context


def _hung_up(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle kept-alive connection was closed by its peer (it reads as ready: an
    end of file, or bytes nobody asked for; either way it cannot carry a request)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])  # Windows
    except (OSError, ValueError):
        return True


class HttpTransport:
    """POSTs to ``url``; thread-safe. Keeps up to ``pool_size`` idle connections."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        pool_size: int = 8,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        head, credentials, rest = split_credentials(url)
        self._basic_auth: str | None = None
        if credentials:
            # user:password@ in the address: HTTP Basic credentials, as requests sent them.
            user, _, password = credentials.partition(":")
            pair = f"{unquote(user)}:{unquote(password)}"
            self._basic_auth = "Basic " + base64.b64encode(pair.encode()).decode()
        parts = urlsplit(head + rest)
        self.display_url = parts.geturl()
        """The address without credentials: the one to show in messages."""
        if parts.scheme not in DEFAULT_PORTS:
            raise ConfigError(
                f"the Prefect API address {self.display_url!r} must start with http:// or https://"
            )
        self._host, self._port = _host_port(parts, "the Prefect API address")
        self._scheme = parts.scheme
        path = parts.path or "/"
        self._path = f"{path}?{parts.query}" if parts.query else path
        self._proxy = proxy_for(parts, environ)
        if self._proxy is not None and self._scheme == "http":
            # A plain-HTTP request through a proxy names the whole address (absolute form).
            self._path = parts._replace(path=path, fragment="").geturl()
        self._tls = tls_context(environ) if self._scheme == "https" else None
        self.timeout = timeout
        self._pool_size = pool_size
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def proxied(self) -> bool:
        return self._proxy is not None

    def post(self, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        send_headers = dict(headers)
        if self._basic_auth and "Authorization" not in send_headers:
            send_headers["Authorization"] = self._basic_auth
        if self._proxy and self._proxy.authorization and self._scheme == "http":
            send_headers["Proxy-Authorization"] = self._proxy.authorization
        connection, reused = self._checkout()
        try:
            if connection.sock is None:
                self._connect(connection)
            try:
                connection.request("POST", self._path, body=body, headers=send_headers)
            except (OSError, http.client.HTTPException) as exc:
                # Not all of the request left: a server acts on a whole request only.
                raise TransportError(f"sending failed ({type(exc).__name__})", sent=False) from None
            try:
                response = connection.getresponse()
                data = response.read()
            except TimeoutError:
                raise TransportError(
                    f"no answer within {self.timeout}s", sent=True, timed_out=True
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                kind = "a kept-alive connection" if reused else "the connection"
                raise TransportError(f"{kind} failed ({type(exc).__name__})", sent=True) from None
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            self._checkin(connection)
        return HttpAnswer(response.status, response.headers, data)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _checkout(self) -> tuple[http.client.HTTPConnection, bool]:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._new_connection(), False
            if not _hung_up(connection):
                return connection, True
            connection.close()

    def _checkin(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._pool_size:
                self._idle.append(connection)
                return
        connection.close()

    def _new_connection(self) -> http.client.HTTPConnection:
        host, port = (
            (self._proxy.host, self._proxy.port) if self._proxy else (self._host, self._port)
        )
        connection: http.client.HTTPConnection
        if self._tls is not None:
            connection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=self._tls
            )
            if self._proxy is not None:
                tunnel_headers = {}
                if self._proxy.authorization:
                    tunnel_headers["Proxy-Authorization"] = self._proxy.authorization
                connection.set_tunnel(self._host, self._port, headers=tunnel_headers)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        return connection

    def _connect(self, connection: http.client.HTTPConnection) -> None:
        """Opens the connection (and tunnel, and TLS session); nothing is sent before this
        succeeds, so a failure here means the request never reached the server."""
        via = f" through the proxy at {self._proxy.host}:{self._proxy.port}" if self._proxy else ""
        try:
            connection.connect()
        except ssl.SSLCertVerificationError as exc:
            raise TransportError(
                f"the server's TLS certificate was not accepted{via} ({exc.verify_message})",
                sent=False,
            ) from None
        except TimeoutError:
            raise TransportError(
                f"could not connect within {self.timeout}s{via}", sent=False
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(f"could not connect{via} ({_reason(exc)})", sent=False) from None


class KeepAliveTransport:
    """The client's ``Transport``: an ``HttpTransport`` (kept-alive connections) for the
    address it posts to. A new address (a permanent redirect the client followed) closes the
    idle connections to the earlier ones, which no request will use again."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        pool_size: int = 8,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = {"timeout": timeout, "pool_size": pool_size, "environ": environ}
        # Built now, so a malformed address is a ConfigError before the first request.
        self._current = HttpTransport(url, timeout=timeout, pool_size=pool_size, environ=environ)
        self._by_url = {url: self._current}
        self._lock = threading.Lock()

    @property
    def display_url(self) -> str:
        """The first address without credentials: the one to show in messages."""
        return self._current.display_url

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        with self._lock:
            transport = self._by_url.get(url)
            if transport is None:
                transport = HttpTransport(url, **self._settings)  # type: ignore[arg-type]
                for old in self._by_url.values():
                    old.close()
                self._by_url = {url: transport}
        return transport.post(body, headers)

    def close(self) -> None:
        with self._lock:
            transports = list(self._by_url.values())
        for transport in transports:
            transport.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return f"name not resolved: {exc.strerror}"
    if isinstance(exc, OSError) and exc.strerror:
        # A refused tunnel reads "Tunnel connection failed: 407 Proxy Authentication Required".
        return f"{type(exc).__name__}: {exc.strerror}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
