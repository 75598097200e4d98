"""The command-line layer: the flags given on ``prefect agent <type> start|config``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect_agent.adapters.config.keys import ConfigKey, ValueKind, keys_for
from prefect_agent.adapters.config.layer import Layer, bad_value
from prefect_agent.adapters.config.text_values import BadText, parse_assignment, parse_text
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.frozen import str_tuple
from prefect_agent.domain.platform_kind import PlatformKind

LABELS_KEY = "cloud.agent.labels"


class FlagSource(Layer):
    """``given`` maps a config key to what its flag received: a string, a tuple of strings
    (repeatable flags), or a bool (switches; ``inverted`` switches store its negation).

    Only flags actually given belong in ``given``; the CLI leaves out the others.
    """

    name = "flag"

    def __init__(self, kind: PlatformKind, given: Mapping[str, Any]) -> None:
        super().__init__()
        self.kind = kind
        self.given = dict(given)

    def _load(self) -> dict[str, tuple[Any, str]]:
        keys = {key.key: key for key in keys_for(self.kind) if key.flag is not None}
        loaded: dict[str, tuple[Any, str]] = {}
        for dotted, raw in self.given.items():
            key = keys.get(dotted)
            if key is None or key.flag is None:
                raise ConfigError(f"no such flag on a {self.kind.value} agent", key=dotted)
            origin = f"flag {key.flag.long}"
            try:
                loaded[dotted] = (_read(key, raw), origin)
            except BadText as err:
                raise bad_value(key, origin, err, raw) from None
        return loaded


def _read(key: ConfigKey, raw: Any) -> Any:
    assert key.flag is not None
    if key.flag.switch:
        value = bool(raw)
        return not value if key.flag.inverted else value
    if key.flag.multiple:
        items = list(str_tuple(raw))
        if key.kind is ValueKind.MAPPING:
            return dict(parse_assignment(item) for item in items)
        if key.key == LABELS_KEY:
            # Prefect 1.4.1's CLI sorts and de-duplicates --label values (configured labels
            # keep their order).
            return sorted(set(items))
        return items
    value = parse_text(key, str(raw))
    if key.choices is not None:
        # Case-insensitive, as click's choices were in 1.4.1; the canonical spelling is kept.
        for choice in key.choices:
            if choice.upper() == str(value).upper():
                return choice
        raise BadText(f"must be one of {', '.join(key.choices)}, not {raw!r}")
    return value
