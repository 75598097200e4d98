"""attrs validators shared by the configuration value objects."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def non_empty_strings(_: object, attribute: attrs.Attribute[Any], value: Iterable[Any]) -> None:
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{attribute.name} entries must be non-empty strings, got {item!r}")


def env_mapping(_: object, attribute: attrs.Attribute[Any], value: Mapping[Any, Any]) -> None:
    for key, val in value.items():
        if not isinstance(key, str) or not ENV_NAME.match(key):
            raise ValueError(f"{attribute.name}: {key!r} is not a valid environment variable name")
        if not isinstance(val, str):
            raise ValueError(
                f"{attribute.name}: the value of {key} must be a string, got {type(val).__name__}"
            )


def optional_uuid(_: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"{attribute.name} must be a UUID, got {value!r}") from None


def positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, got {value!r}")


def non_negative(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be zero or more, got {value!r}")


def subset_of(choices: tuple[str, ...]) -> Any:
    """A validator: every entry of a tuple setting is one of ``choices``."""

    def check(_: object, attribute: attrs.Attribute[Any], value: Iterable[Any]) -> None:
        for item in value:
            if item not in choices:
                raise ValueError(
                    f"{attribute.name} entries must be among {', '.join(choices)}, not {item!r}"
                )

    return check
