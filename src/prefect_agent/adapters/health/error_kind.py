"""The short, secret-free name of an error's kind, used as a metric label and in health bodies."""

from __future__ import annotations

from prefect_agent.domain.errors import (
    ApiError,
    ApiUnavailable,
    AuthorizationError,
    PlatformUnavailable,
    PrefectAgentError,
    RateLimited,
    TransientError,
    VersionConflict,
)

# Most specific first: the first class an error is an instance of names its kind.
_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (RateLimited, "rate_limited"),
    (ApiUnavailable, "unavailable"),
    (PlatformUnavailable, "platform_unavailable"),
    (TransientError, "transient"),
    (AuthorizationError, "unauthorized"),
    (VersionConflict, "version_conflict"),
    (ApiError, "rejected"),
    (PrefectAgentError, "agent_error"),
)

ERROR_KINDS: tuple[str, ...] = (*(kind for _, kind in _KINDS), "unexpected")


def error_kind(error: BaseException) -> str:
    """``unavailable``, ``rate_limited``, ``unauthorized``, ... or ``unexpected``.

    Decided by type only: the message may carry anything, so it never reaches a health body.
    """
    for cls, kind in _KINDS:
        if isinstance(error, cls):
            return kind
    return "unexpected"
