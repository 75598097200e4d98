"""The log level names the agent, its flags and the Prefect API accept."""

from __future__ import annotations

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
"""Every level a setting may name (files and the environment may say CRITICAL)."""

FLAG_LOG_LEVELS = LOG_LEVELS[:4]
"""What a ``--log-level`` flag offers: Prefect 1.4.1's choices, without CRITICAL."""

_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "EXCEPTION": "ERROR"}


def api_log_level(level: str) -> str:
    """The Prefect API's name for a Python level name; an unknown name is INFO (one odd
    record must not make the API refuse a whole batch of logs)."""
    name = _ALIASES.get(level.upper(), level.upper())
    return name if name in LOG_LEVELS else "INFO"
