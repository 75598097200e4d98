"""``$VAR``/``${VAR}`` and leading ``~`` in setting values, as Prefect 1 expands them."""

from __future__ import annotations

import re
from collections.abc import Mapping

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
