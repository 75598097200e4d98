"""Errors the embedded API returns to clients, each with its GraphQL ``extensions.code``."""

from __future__ import annotations

VERSION_LOCKING_ERROR = "VERSION_LOCKING_ERROR"
NOT_FOUND = "NOT_FOUND"
BAD_USER_INPUT = "BAD_USER_INPUT"


class ServerError(Exception):
    """A request the API refuses; ``code`` goes to ``extensions.code`` in the response."""

    code = BAD_USER_INPUT

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class NotFound(ServerError):
    code = NOT_FOUND


class VersionLocked(ServerError):
    """A state update named a version the run is no longer at (enforced, unlike Server)."""

    code = VERSION_LOCKING_ERROR
