"""A string that refuses to show itself: API keys travel as ``Secret`` everywhere."""

from __future__ import annotations

import attrs

MASK = "********"


@attrs.frozen(repr=False)
class Secret:
    """Wraps a secret value. ``str``/``repr``/f-strings show a mask; ``reveal()`` gives the value.

    Only the code that must send the key (HTTP auth header, a child's environment) calls
    ``reveal()``; everything else (logs, errors, health output) sees the mask.
    """

    _value: str = attrs.field(alias="value")

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK
