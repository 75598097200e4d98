"""Error kinds are decided by type, most specific first."""

from __future__ import annotations

import pytest

from prefect_agent.adapters.health.error_kind import ERROR_KINDS, error_kind
from prefect_agent.domain.errors import (
    ApiError,
    ApiUnavailable,
    AuthorizationError,
    PlatformUnavailable,
    RateLimited,
    VersionConflict,
)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (RateLimited("slow down", retry_after=3), "rate_limited"),
        (ApiUnavailable("connection refused"), "unavailable"),
        (PlatformUnavailable("engine down"), "platform_unavailable"),
        (AuthorizationError("bad key"), "unauthorized"),
        (VersionConflict("stale"), "version_conflict"),
        (ApiError("no such run"), "rejected"),
        (KeyError("boom"), "unexpected"),
    ],
)
def test_kind_of_each_error(error: BaseException, kind: str) -> None:
    assert error_kind(error) == kind
    assert kind in ERROR_KINDS


def test_message_does_not_decide_the_kind() -> None:
    assert error_kind(ApiError("429 rate limited, unauthorized")) == "rejected"
