"""Strict cattrs structuring of one key's value into its field's type, with readable errors."""

from __future__ import annotations

from typing import Any

import cattrs

from prefect_agent.adapters.config.keys import ConfigKey, ValueKind
from prefect_agent.adapters.config.text_values import BadText, env_text
from prefect_agent.domain.command_line import split_command
from prefect_agent.domain.frozen import str_tuple


def _text(value: Any, _: type) -> str:
    # A numeric name stays a string; a list or a bool where text belongs is a mistake.
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"expected a string, got {value!r}")
    return str(value)


def _boolean(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _integer(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _number(value: Any, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _environment(value: Any, _: type) -> dict[str, str]:
    if not isinstance(value, dict):
        raise TypeError(f"expected a table of NAME = value, got {value!r}")
    try:
        return {_text(name, str): env_text(item) for name, item in value.items()}
    except BadText as err:
        raise TypeError(str(err)) from None


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(detailed_validation=True)
    converter.register_structure_hook(str, _text)
    converter.register_structure_hook(bool, _boolean)
    converter.register_structure_hook(int, _integer)
    converter.register_structure_hook(float, _number)
    converter.register_structure_hook_func(lambda tp: tp == dict[str, str], _environment)
    return converter


CONVERTER = _converter()

_WIRE_TYPES: dict[ValueKind, Any] = {
    ValueKind.TEXT: str,
    ValueKind.SECRET: str,
    ValueKind.BOOL: bool,
    ValueKind.INT: int,
    ValueKind.FLOAT: float,
    ValueKind.LIST: tuple[str, ...],
    ValueKind.COMMAND: tuple[str, ...],
    ValueKind.MAPPING: dict[str, str],
}


def structure(key: ConfigKey, value: Any) -> Any:
    """``value`` as the key's field takes it; ``ValueError`` naming the problem otherwise."""
    if value is None:
        if key.optional:
            return None
        raise ValueError("a value is required")
    if key.kind is ValueKind.JSON:
        return value
    if isinstance(value, str) and key.kind is ValueKind.LIST:
        value = str_tuple(value)
    elif isinstance(value, str) and key.kind is ValueKind.COMMAND:
        value = split_command(value)
    try:
        return CONVERTER.structure(value, _WIRE_TYPES[key.kind])
    except Exception as err:  # cattrs wraps hook errors in its own exception groups
        raise ValueError("; ".join(_messages(err))) from None


def _messages(err: BaseException) -> list[str]:
    if isinstance(err, cattrs.BaseValidationError):
        found: list[str] = []
        for inner in err.exceptions:
            found.extend(_messages(inner))
        return found or [str(err)]
    return [str(err)]
