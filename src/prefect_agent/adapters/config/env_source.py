"""The environment layer: ``PREFECT__*`` variables, plus the Kubernetes agent's bare ones."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from prefect_agent.adapters.config.env_expansion import read_expanded
from prefect_agent.adapters.config.keys import keys_for
from prefect_agent.adapters.config.layer import Layer, bad_value
from prefect_agent.adapters.config.text_values import BadText
from prefect_agent.domain.platform_kind import PlatformKind

PREFIX = "PREFECT__"


def key_of_variable(name: str) -> str | None:
    """``PREFECT__CLOUD__AGENT__LABELS`` -> ``cloud.agent.labels`` (any case), else None."""
    if not name.upper().startswith(PREFIX) or len(name) == len(PREFIX):
        return None
    return name[len(PREFIX) :].lower().replace("__", ".")


class EnvSource(Layer):
    """Reads the variables of the keys an agent of ``kind`` uses.

    A key's canonical ``PREFECT__*`` variable wins over its alias (``NAMESPACE``). Values are
    expanded (``$VAR``, ``~``) and read as text: see ``text_values``.
    """

    name = "env"

    def __init__(self, kind: PlatformKind, environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.environ = dict(os.environ if environ is None else environ)

    def _load(self) -> dict[str, tuple[Any, str]]:
        keys = {key.key: key for key in keys_for(self.kind)}
        found: dict[str, str] = {}
        for variable in sorted(self.environ):
            dotted = key_of_variable(variable)
            if dotted in keys:
                found.setdefault(dotted, variable)
        for key in keys.values():
            for alias in key.env[1:]:
                if key.key not in found and alias in self.environ:
                    found[key.key] = alias
        loaded: dict[str, tuple[Any, str]] = {}
        for dotted, variable in found.items():
            key = keys[dotted]
            origin = f"env {variable}"
            text = self.environ[variable]
            try:
                loaded[dotted] = (read_expanded(key, text, self.environ), origin)
            except BadText as err:
                raise bad_value(key, origin, err, text) from None
        return loaded
