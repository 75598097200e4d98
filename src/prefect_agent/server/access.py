"""Who may talk to the embedded API: its API key, and the browser-facing checks around it.

The API schedules runs with any ``env`` and command, so a request it accepts can run code as
the agent's user. Listening on loopback does not make it private: other local users reach
loopback, and so does every web page open in a browser on this machine (a cross-site form
POST needs no preflight; DNS rebinding lets a page's own origin resolve to 127.0.0.1).
Hence, as Jupyter does with its token:

- an API key is required (``Authorization: Bearer <key>``, what Prefect 1.4.1's ``Client``
  sends when ``PREFECT__CLOUD__API_KEY`` is set, whatever the backend);
- a request carrying an ``Origin`` header (only browsers send one) is refused unless that
  origin is listed;
- a ``Host`` header that names something other than this machine (an IP address,
  ``localhost``, or a listed name) is refused: that is what a DNS-rebinding page sends;
- a POST must say ``Content-Type: application/json`` (a form or a ``text/plain`` fetch,
  which browsers send cross-site without asking, cannot).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from email.message import Message

    Headers = Mapping[str, str] | Message[str, str]
    """A request's headers: a plain mapping, or ``http.server``'s case-insensitive one."""

KEY_BYTES = 32
"""Entropy of a generated key (43 URL-safe characters)."""

DEFAULT_ALLOWED_HOSTS = ("localhost", "host.docker.internal")
"""Host names always accepted besides IP addresses: loopback, and the name Docker containers
use for the host (docs/docker.md). Names under ``.localhost`` resolve to loopback too."""

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "")


class Refusal(Exception):
    """A request the access policy refuses: the HTTP status, a message and a GraphQL code."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def generate_api_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def read_key_file(path: str | Path) -> str:
    """The key in ``path`` (surrounding whitespace ignored); ``ValueError`` naming the file
    (never quoting it) when it cannot be read or is empty."""
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ValueError(f"cannot read the API key file {str(path)!r}: {reason}") from None
    key = text.strip()
    if not key or any(ch.isspace() for ch in key):
        raise ValueError(f"the API key file {str(path)!r} must hold one key on one line")
    return key


def write_key_file(path: str | Path, key: str) -> None:
    """Create ``path`` readable by its owner only, holding ``key`` (never replaces a file)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    descriptor = os.open(path, flags, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the API to this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The name part of a ``Host`` header (``name``, ``name:port``, ``[v6]:port``)."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _normal_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def _host_names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(name.strip().lower().rstrip(".") for name in names)


def _origins(origins: Iterable[str]) -> frozenset[str]:
    return frozenset(map(_normal_origin, origins))


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


@attrs.frozen
class AccessPolicy:
    """``api_key``: the key every request but ``/health`` must present (None: no key, only
    with ``--no-auth``). ``allowed_hosts``: extra names accepted in ``Host`` (``*``: any).
    ``allowed_origins``: browser origins accepted (``scheme://host:port``; ``*``: any)."""

    api_key: str | None = attrs.field(repr=False)
    allowed_hosts: frozenset[str] = attrs.field(
        default=frozenset(DEFAULT_ALLOWED_HOSTS), converter=_host_names
    )
    allowed_origins: frozenset[str] = attrs.field(default=frozenset(), converter=_origins)

    @api_key.validator
    def _check_key(self, _attribute: attrs.Attribute[str | None], key: str | None) -> None:
        if key is not None and (not key or any(ch.isspace() for ch in key)):
            raise ValueError("the API key must be a non-empty string without spaces")

    @classmethod
    def with_hosts(
        cls, api_key: str | None, hosts: Iterable[str], origins: Iterable[str] = ()
    ) -> AccessPolicy:
        """A policy accepting the default host names plus ``hosts``."""
        return cls(api_key, frozenset(DEFAULT_ALLOWED_HOSTS) | set(hosts), frozenset(origins))

    @property
    def requires_key(self) -> bool:
        return self.api_key is not None

    def check_host(self, headers: Headers) -> None:
        """Refuse a ``Host`` naming something other than this machine (DNS rebinding)."""
        header = headers.get("Host")
        if header is None or "*" in self.allowed_hosts:
            return  # only HTTP/1.0 clients omit it, and browsers are not among them
        name = _host_name(header)
        if (
            _is_address(name)
            or name == "localhost"
            or name.endswith(".localhost")
            or name in self.allowed_hosts
        ):
            return
        raise Refusal(
            421,
            f"Host {name!r} is not one of this API's names; if clients reach it by that name, "
            "allow it with --allowed-host (setting allowed_hosts)",
            "FORBIDDEN_HOST",
        )

    def check_origin(self, headers: Headers) -> str | None:
        """Refuse browser requests from unlisted origins; returns an accepted origin."""
        origin = headers.get("Origin")
        if origin is None:
            return None
        normal = _normal_origin(origin)
        if normal in self.allowed_origins or "*" in self.allowed_origins:
            return origin.strip()
        raise Refusal(
            403,
            f"Requests from the web origin {origin.strip()[:100]!r} are refused; allow it with "
            "--allowed-origin (setting allowed_origins)",
            "FORBIDDEN_ORIGIN",
        )

    def check_key(self, headers: Headers) -> None:
        """Refuse a request without this API's key (the presented value is never quoted)."""
        if self.api_key is None:
            return
        scheme, _, presented = (headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), self.api_key.encode()
        ):
            return
        why = "no API key was sent" if not scheme else "the API key is not this API's key"
        raise Refusal(
            401,
            f"Unauthenticated: {why}. Send 'Authorization: Bearer <key>' with the key "
            "prefect server start printed or was given (agents and Prefect 1.4.1: set "
            "PREFECT__CLOUD__API_KEY)",
            "UNAUTHENTICATED",
        )

    @staticmethod
    def check_content_type(headers: Headers) -> None:
        """Refuse a POST that is not JSON (what a browser sends cross-site without asking)."""
        content_type = headers.get("Content-Type")
        if content_type is not None and _media_type(content_type) == "application/json":
            return
        shown = "none" if content_type is None else repr(content_type.strip()[:100])
        raise Refusal(
            415,
            f"Content-Type must be application/json (got {shown})",
            "UNSUPPORTED_MEDIA_TYPE",
        )
