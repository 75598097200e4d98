"""The effective configuration as text or JSON for ``prefect agent <type> config``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from prefect_agent.adapters.config.resolution import ResolvedConfig, ResolvedEntry
from prefect_agent.domain.agent_config import masked_url
from prefect_agent.domain.secret import MASK, Secret

NOT_SET = "(not set)"


def display_value(entry: ResolvedEntry) -> str:
    """The value as the user would write it; secrets always masked, even when unset."""
    value = entry.value
    if entry.key.secret:
        return MASK if value else NOT_SET
    if value is None:
        return NOT_SET
    shown = plain(value)
    return shown if isinstance(value, str) else json.dumps(shown)


def plain(value: Any) -> Any:
    """JSON-friendly: tuples as lists, mappings as dicts, secrets masked, others as text."""
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return masked_url(value, keep_user=True)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def as_table(resolved: ResolvedConfig) -> str:
    """One line per key: key, its environment variable, value and origin (``default``,
    ``file ...:3``, ``env X``, ...)."""
    rows = [("KEY", "ENVIRONMENT VARIABLE", "VALUE", "SOURCE")]
    rows += [(e.key.key, e.key.env[0], display_value(e), e.origin) for e in resolved.entries]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    )


def as_json(resolved: ResolvedConfig) -> str:
    document = {
        e.key.key: {
            "value": MASK if e.key.secret and e.value else plain(e.value),
            "source": e.origin,
            "env": e.key.env[0],
        }
        for e in resolved.entries
    }
    return json.dumps(document, indent=2, sort_keys=True)
