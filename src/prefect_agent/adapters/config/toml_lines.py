"""Finding the line of a dotted key in TOML text, so errors can point at it."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z0-9_.\"' -]+?)\s*=")


def _dotted(text: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in text.split("."))


def line_of(text: str, key: str) -> int | None:
    """The 1-based line where ``key`` (``cloud.agent.labels``) is assigned, if it can be found.

    Understands table headers (a key given as a table is at its header) and dotted keys, which
    is what configuration files use; a key inside an inline table is reported at the line of
    its table's assignment.
    """
    table = ""
    best: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _dotted(header.group(1))
            if table == key:
                return number
            continue
        assignment = _ASSIGNMENT.match(line)
        if not assignment:
            continue
        name = _dotted(assignment.group(1))
        full = f"{table}.{name}" if table else name
        if full == key:
            return number
        if key.startswith(full + "."):
            best = number
    return best
