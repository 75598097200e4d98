"""Reading a setting written as text (environment, flags, strings in files) as its value type.

Compatible with what Prefect 1 users write (JSON and Python literals for lists and dicts), but
never misreads: a bare ``dev`` is one label, ``dev,staging`` two, JSON ``true``/``false``/``null``
work, and a numeric name stays a string.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from prefect_agent.adapters.config.keys import ConfigKey, ValueKind
from prefect_agent.domain.command_line import split_command

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class BadText(ValueError):
    """The text cannot be read as the key's type; the message says why, in a few words."""


def parse_text(key: ConfigKey, text: str) -> Any:
    """The value ``text`` denotes for ``key``; ``BadText`` when it cannot be read."""
    stripped = text.strip()
    if key.optional and stripped == "" and key.kind is not ValueKind.LIST:
        return None
    kind = key.kind
    if kind in (ValueKind.TEXT, ValueKind.SECRET):
        return text
    if kind is ValueKind.BOOL:
        return parse_bool(stripped)
    if kind is ValueKind.INT:
        try:
            return int(stripped)
        except ValueError:
            raise BadText(f"expected an integer, got {text!r}") from None
    if kind is ValueKind.FLOAT:
        try:
            return float(stripped)
        except ValueError:
            raise BadText(f"expected a number, got {text!r}") from None
    if kind is ValueKind.LIST:
        return parse_list(stripped)
    if kind is ValueKind.MAPPING:
        return parse_mapping(stripped)
    if kind is ValueKind.COMMAND:
        return parse_command(stripped)
    return parse_literal(stripped)


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadText(f"expected true/false, yes/no, on/off or 1/0, got {text!r}")


def parse_literal(text: str) -> Any:
    """JSON first (so true/false/null work), then a Python literal; ``BadText`` otherwise."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise BadText(f"expected JSON, got {text!r}") from None


def _scalar_text(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (str, int, float)):
        return str(item)
    raise BadText(f"expected a list of strings, got an item {item!r}")


def parse_list(text: str) -> list[str]:
    """``["a", "b"]`` or ``['a']`` (JSON or Python), else comma-separated; ``""`` is no items."""
    if text.startswith(("[", "(")):
        value = parse_literal(text)
        if not isinstance(value, (list, tuple)):
            raise BadText(f"expected a list, got {text!r}")
        return [_scalar_text(item) for item in value]
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_mapping(text: str) -> dict[str, str]:
    """A JSON object or Python dict literal; values that are not strings are written as JSON."""
    if text == "":
        return {}
    try:
        value = parse_literal(text)
    except BadText:
        raise BadText(f'expected a JSON object such as {{"KEY": "value"}}, got {text!r}') from None
    if not isinstance(value, dict):
        raise BadText(f'expected a JSON object such as {{"KEY": "value"}}, got {text!r}')
    return {str(k): env_text(v) for k, v in value.items()}


def env_text(value: Any) -> str:
    """An environment value from a JSON scalar: true/false/null as JSON spells them."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    raise BadText(f"expected a string value, got {value!r}")


def parse_command(text: str) -> list[str]:
    """A JSON list of arguments, or a shell-style command line."""
    if text.startswith("["):
        return parse_list(text)
    try:
        return list(split_command(text))
    except ValueError as err:
        raise BadText(str(err)) from None


def parse_assignment(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` split on the first ``=``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise BadText(f"expected KEY=VALUE, got {text!r}")
    return name.strip(), value
