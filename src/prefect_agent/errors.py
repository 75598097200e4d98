"""Every error prefect-agent raises, in one place (re-exported from the domain's tree)."""

from prefect_agent.domain.errors import (
    ApiError,
    ApiUnavailable,
    AuthorizationError,
    ConfigError,
    IncompatibleRunConfig,
    LaunchError,
    PlatformUnavailable,
    PrefectAgentError,
    RateLimited,
    StoppedBeforeStart,
    TransientError,
    VersionConflict,
)

__all__ = [
    "ApiError",
    "ApiUnavailable",
    "AuthorizationError",
    "ConfigError",
    "IncompatibleRunConfig",
    "LaunchError",
    "PlatformUnavailable",
    "PrefectAgentError",
    "RateLimited",
    "StoppedBeforeStart",
    "TransientError",
    "VersionConflict",
]
