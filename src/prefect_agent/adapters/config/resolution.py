"""Merging layers (lowest first) into one validated ``AgentConfig``, remembering each origin."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from prefect_agent.adapters.config.defaults_source import DefaultsSource
from prefect_agent.adapters.config.env_source import EnvSource
from prefect_agent.adapters.config.file_source import FileSource, user_config_path
from prefect_agent.adapters.config.keys import (
    PLATFORM_SECTIONS,
    SECTION_CLASSES,
    ConfigKey,
    Section,
    keys_for,
)
from prefect_agent.adapters.config.structuring import structure
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.secret import MASK
from prefect_agent.ports import ConfigSource

_REFERENCE = re.compile(r"\$\{([a-z0-9_.]+)\}")
_REFERENCE_PASSES = 10


@attrs.frozen
class ResolvedEntry:
    """One key of the effective configuration: its final value and the layer that set it."""

    key: ConfigKey
    value: Any
    origin: str


@attrs.frozen
class ResolvedConfig:
    config: AgentConfig
    entries: tuple[ResolvedEntry, ...]

    def entry(self, dotted: str) -> ResolvedEntry:
        return next(e for e in self.entries if e.key.key == dotted)


def standard_layers(
    kind: PlatformKind, *above: ConfigSource, environ: Mapping[str, str] | None = None
) -> list[ConfigSource]:
    """Defaults, the user file, the environment, then ``above`` (arguments or flags)."""
    env = dict(os.environ if environ is None else environ)
    return [
        DefaultsSource(kind),
        FileSource(user_config_path(env), kind, environ=env),
        EnvSource(kind, env),
        *above,
    ]


def resolve(kind: PlatformKind, layers: Sequence[ConfigSource]) -> ResolvedConfig:
    """The ``AgentConfig`` the layers add up to; the highest layer setting a key wins.

    Every problem is a ``ConfigError`` naming the origin of the value, the key and the value
    (secrets masked).
    """
    keys = {key.key: key for key in keys_for(kind)}
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for layer in layers:
        values = layer.values()
        for dotted, value in values.items():
            if dotted in keys:
                merged[dotted] = value
                origins[dotted] = layer.origin(dotted)
    _resolve_references(merged, keys)
    sections: dict[Section, dict[str, Any]] = {section: {} for section in SECTION_CLASSES}
    for dotted, value in merged.items():
        key = keys[dotted]
        if key.field is None:
            continue
        origin = origins.get(dotted, "default")
        sections[key.section][key.field] = _checked(key, value, origin)
    platform_cls = SECTION_CLASSES[PLATFORM_SECTIONS[kind]]
    try:
        config = AgentConfig(
            platform=platform_cls(**sections[PLATFORM_SECTIONS[kind]]),
            operations=SECTION_CLASSES[Section.OPERATIONS](**sections[Section.OPERATIONS]),
            **sections[Section.AGENT],
        )
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err), source="configuration") from None
    entries = tuple(
        ResolvedEntry(key, _final(config, key, merged), origins.get(key.key, "default"))
        for key in keys.values()
    )
    return ResolvedConfig(config=config, entries=entries)


def _resolve_references(merged: dict[str, Any], keys: Mapping[str, ConfigKey]) -> None:
    """``${a.b}`` in a string is replaced by key ``a.b``'s value, innermost first (Prefect 1).

    A secret is never substituted: it would then show in the other key's errors and output.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in merged and not keys[name].secret:
            return str(merged[name])
        return match.group(0)

    for _ in range(_REFERENCE_PASSES):
        changed = False
        for dotted, value in merged.items():
            if isinstance(value, str) and "${" in value:
                new = _REFERENCE.sub(substitute, value)
                if new != value:
                    merged[dotted] = new
                    changed = True
        if not changed:
            return


def _checked(key: ConfigKey, value: Any, origin: str) -> Any:
    """The value structured and validated by its own field, so errors name this key's origin."""
    shown = MASK if key.secret else repr(value)
    try:
        typed = structure(key, value)
    except ValueError as err:
        problem = "invalid value" if key.secret else str(err)
        raise ConfigError(problem, source=origin, key=key.key, value=shown) from None
    try:
        SECTION_CLASSES[key.section](**{str(key.field): typed})
    except (ValueError, TypeError) as err:
        problem = "invalid value" if key.secret else str(err)
        raise ConfigError(problem, source=origin, key=key.key, value=shown) from None
    return typed


def _final(config: AgentConfig, key: ConfigKey, merged: Mapping[str, Any]) -> Any:
    if key.field is None:
        return merged.get(key.key)
    if key.section is Section.AGENT:
        return getattr(config, key.field)
    if key.section is Section.OPERATIONS:
        return getattr(config.operations, key.field)
    return getattr(config.platform, key.field)
