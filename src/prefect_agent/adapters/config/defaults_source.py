"""The packaged defaults layer: the attrs defaults of every key, plus the API references."""

from __future__ import annotations

import copy
from typing import Any

from prefect_agent.adapters.config.keys import NO_DEFAULT, keys_for
from prefect_agent.adapters.config.layer import Layer
from prefect_agent.domain.platform_kind import PlatformKind


class DefaultsSource(Layer):
    """Lowest layer. ``cloud.api`` defaults to ``${${backend}.endpoint}``, so the backend
    (``server`` unless set) picks http://localhost:4200 or https://api.prefect.io."""

    name = "default"

    def __init__(self, kind: PlatformKind) -> None:
        super().__init__()
        self.kind = kind

    def _load(self) -> dict[str, tuple[Any, str]]:
        # A copy of each default: the keys are cached and shared by every layer and caller.
        return {
            key.key: (copy.deepcopy(key.default), "default")
            for key in keys_for(self.kind)
            if key.default is not NO_DEFAULT
        }
