"""The constructor-arguments layer of the Python facades (``LocalAgent(labels=[...])``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect_agent.adapters.config.keys import keys_for
from prefect_agent.adapters.config.layer import Layer
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.platform_kind import PlatformKind


class ArgumentSource(Layer):
    """Arguments named as the settings' fields (``labels``, ``import_paths``, ``api_key``).

    ``None`` and empty lists or dicts are "not given", so lower layers decide, as Prefect 1's
    ``labels or config`` does. Values are Python values and are not read as text.
    """

    name = "argument"

    def __init__(self, kind: PlatformKind, arguments: Mapping[str, Any]) -> None:
        super().__init__()
        self.kind = kind
        self.arguments = dict(arguments)

    def _load(self) -> dict[str, tuple[Any, str]]:
        by_argument = {key.argument: key for key in keys_for(self.kind) if key.field}
        loaded: dict[str, tuple[Any, str]] = {}
        for argument, value in self.arguments.items():
            origin = f"argument {argument}"
            key = by_argument.get(argument)
            if key is None:
                raise ConfigError(
                    f"unknown setting for a {self.kind.value} agent", source=origin, key=argument
                )
            if value is None or (isinstance(value, (list, tuple, dict)) and not value):
                continue
            loaded[key.key] = (value, origin)
        return loaded
