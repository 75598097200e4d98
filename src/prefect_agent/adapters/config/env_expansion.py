"""``$VAR``/``${VAR}`` and leading ``~`` in setting values, as Prefect 1 expands them, and in
each item of a list, mapping or command (``import_paths = ["~/flows"]``), where Prefect 1 did
not: a path behaves the same whether it is written alone or in a list."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from prefect_agent.adapters.config.keys import ConfigKey, ValueKind
from prefect_agent.adapters.config.text_values import parse_text

ITEMWISE = frozenset({ValueKind.LIST, ValueKind.MAPPING, ValueKind.COMMAND})
"""Kinds expanded item by item after they are read, so ``~`` counts at the start of each item
and a variable's value can never change how the text splits into items."""

_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand(text: str, environ: Mapping[str, str]) -> str:
    """Variables of ``environ`` substituted (unknown ones left as written) and ``~`` expanded.

    ``${backend}``-style references to configuration keys contain no upper-case environment
    name in practice and are left for the reference pass when no such variable exists.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return environ.get(name, match.group(0))

    expanded = _VARIABLE.sub(substitute, text)
    home = environ.get("HOME")
    if home and (expanded == "~" or expanded.startswith("~/")):
        expanded = home + expanded[1:]
    return expanded


def expand_items(value: Any, environ: Mapping[str, str]) -> Any:
    """``value`` with every string in it expanded: itself, a list's items, a mapping's values."""
    if isinstance(value, str):
        return expand(value, environ)
    if isinstance(value, (list, tuple)):
        return [expand_items(item, environ) for item in value]
    if isinstance(value, dict):
        return {name: expand_items(item, environ) for name, item in value.items()}
    return value


def read_expanded(key: ConfigKey, value: Any, environ: Mapping[str, str]) -> Any:
    """A value from a file or the environment as ``key``'s type, expanded: a scalar's text
    before it is read, each item of a list, mapping or command after. ``BadText`` when the
    text cannot be read."""
    if key.kind in ITEMWISE:
        return expand_items(parse_text(key, value) if isinstance(value, str) else value, environ)
    if isinstance(value, str):
        return parse_text(key, expand(value, environ))
    return value
