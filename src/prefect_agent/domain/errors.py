"""The error tree. Behaviour is decided by type, never by searching an exception's message.

- ``ConfigError``: bad agent configuration, shown to the user as one line naming its source.
- ``TransientError``: worth retrying later (API or platform temporarily unavailable).
- ``LaunchError``: this one run cannot be started; it is failed with ``reason``.
- ``VersionConflict``: a version-locked state change lost to a concurrent writer.
- ``ApiError``: the API refused a request for a reason retrying will not fix.
"""

from __future__ import annotations

import re


class PrefectAgentError(Exception):
    """Base class of every error raised by prefect-agent."""


class ConfigError(PrefectAgentError):
    """An agent configuration value is invalid.

    ``source`` says where the value came from (``flag --env``, ``env PREFECT__CLOUD__API``,
    ``file ~/.prefect/config.toml:12``, ``argument labels``), ``key`` which setting it is.
    The message is one line meant for a human; it never includes a secret value.
    """

    def __init__(self, problem: str, *, source: str = "", key: str = "", value: object = None):
        self.problem = problem
        self.source = source
        self.key = key
        self.value = value
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.source}: " if self.source else ""
        what = f"{self.key}: " if self.key else ""
        # One line even when the problem quotes a library's multi-line message (YAML errors).
        problem = re.sub(r"\s*\n\s*", " ", self.problem.strip())
        return f"{where}{what}{problem}"


class TransientError(PrefectAgentError):
    """Something that may work if tried again later."""


class ApiUnavailable(TransientError):
    """The Prefect API could not be reached or answered with a server error."""


class RateLimited(ApiUnavailable):
    """The API answered HTTP 429; ``retry_after`` seconds is its requested delay."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PlatformUnavailable(TransientError):
    """The platform (Docker engine, Kubernetes API, ...) cannot launch runs right now."""


class StoppedBeforeStart(PrefectAgentError):
    """The agent was asked to stop before it could register with the API: not a failure."""


class ApiError(PrefectAgentError):
    """The API rejected a request (GraphQL error, bad request, unknown id)."""


class AuthorizationError(ApiError):
    """The API rejected the credentials. The message never contains the key."""


class VersionConflict(ApiError):
    """A version-locked state update was rejected: someone else changed the run first."""


class LaunchError(PrefectAgentError):
    """One run cannot be launched; the run is marked Failed with ``reason``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class IncompatibleRunConfig(LaunchError):
    """The run's run config is of a type this agent's platform cannot run."""
