"""The common shape of a configuration layer: values keyed by dotted key, each with its origin."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from prefect_agent.adapters.config.keys import ConfigKey
from prefect_agent.adapters.config.text_values import BadText
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.secret import MASK


class Layer:
    """A ``ConfigSource`` whose subclasses fill ``_load``; parsed once, on first use."""

    name = "layer"

    def __init__(self) -> None:
        self._values: Mapping[str, Any] | None = None
        self._origins: dict[str, str] = {}

    def _load(self) -> dict[str, tuple[Any, str]]:
        """``{key: (value, origin)}`` for the keys this layer sets; ``ConfigError`` if malformed."""
        raise NotImplementedError

    def values(self) -> Mapping[str, Any]:
        if self._values is None:
            loaded = self._load()
            self._origins = {key: origin for key, (_, origin) in loaded.items()}
            self._values = MappingProxyType({key: value for key, (value, _) in loaded.items()})
        return self._values

    def origin(self, key: str) -> str:
        """Where ``key`` was set; ``KeyError`` when this layer does not set it."""
        self.values()
        return self._origins[key]


def shown(key: ConfigKey, value: object) -> str:
    """``value`` as an error message may show it: secrets never appear."""
    return MASK if key.secret else repr(value)


def bad_value(key: ConfigKey, origin: str, err: BadText, raw: object) -> ConfigError:
    """A ``ConfigError`` for text that cannot be read, without leaking a secret."""
    problem = f"expected a value for {key.key}, got {MASK}" if key.secret else str(err)
    return ConfigError(problem, source=origin, key=key.key, value=None if key.secret else raw)
