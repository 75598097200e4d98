"""Converters that make the containers held by frozen domain objects read-only too."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any


def frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only copy of ``value`` (``None`` becomes an empty mapping)."""
    return MappingProxyType(dict(value or {}))


def optional_frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if value is None else MappingProxyType(dict(value))


def str_tuple(value: Iterable[str] | None) -> tuple[str, ...]:
    """A tuple of strings; a lone string is one item, never a sequence of characters."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def sorted_unique(value: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(sorted(set(str_tuple(value))))


def unique(value: Iterable[str] | None) -> tuple[str, ...]:
    """Without repeats, in the order first given."""
    return tuple(dict.fromkeys(str_tuple(value)))
