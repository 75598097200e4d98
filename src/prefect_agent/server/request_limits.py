"""The embedded API's limits on requests and connections: settings only, so the CLI can read
their defaults without importing the server (its GraphQL library is an optional extra).

Every limit has a safe default and is named in the error a request exceeding it gets.
"""

from __future__ import annotations

from typing import Any

import attrs


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{attribute.name} must be a positive integer, not {value!r}")


@attrs.frozen
class QueryLimits:
    """Each limit names itself in the error a request exceeding it gets."""

    max_depth: int = attrs.field(default=10, validator=_positive)
    """Deepest selection (Prefect's Apollo gateway allows 7; flow processes need 3)."""
    max_fields: int = attrs.field(default=20_000, validator=_positive)
    """Fields selected once fragments are expanded (aliases count each time): what a
    fragment spread in many places may multiply a small document into."""
    max_repeats: int = attrs.field(default=20, validator=_positive)
    """Times one response key may appear in one selection set, fragments included."""
    max_spreads: int = attrs.field(default=50, validator=_positive)
    """Fragment spreads in one selection set."""
    max_tokens: int = attrs.field(default=50_000, validator=_positive)
    """Tokens parsed in one document (an agent's claim of 100 runs and 100 task runs is
    about 4 400; a mapped flow's task runs add 22 each; parsing costs about 0.1 s per
    10 000 tokens)."""
    max_rows: int = attrs.field(default=10_000, validator=_positive)
    """Rows resolved by one request, all lists and nested lists together (an agent's
    metadata query for 1 000 runs reads about 2 000; a row costs 30 to 100 us)."""
    max_result_bytes: int = attrs.field(default=64 * 1024 * 1024, validator=_positive)
    """Size of one JSON answer."""
    cache_entries: int = attrs.field(default=256, validator=_positive)
    """Parsed documents kept, keyed by a hash of their text."""
    cache_max_query_bytes: int = attrs.field(default=64 * 1024, validator=_positive)
    """Larger documents are parsed every time rather than kept."""


def _positive_number(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{attribute.name} must be a positive number, not {value!r}")


@attrs.frozen
class ConnectionLimits:
    """``max_connections`` served at once (one thread each; more are answered 503 and
    closed); ``idle_timeout`` seconds a kept-alive connection may wait for its next request;
    ``request_timeout`` seconds any single read or write within a request may stall."""

    max_connections: int = attrs.field(default=64, validator=_positive)
    idle_timeout: float = attrs.field(default=15.0, validator=_positive_number)
    request_timeout: float = attrs.field(default=30.0, validator=_positive_number)


def default_of(settings: type[Any], name: str) -> Any:
    """The default of one setting (for CLI options)."""
    return attrs.fields_dict(settings)[name].default
