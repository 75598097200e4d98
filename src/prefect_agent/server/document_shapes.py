"""Documents that differ only in their literal values share their validation.

Prefect 1.4.1 writes ids into its documents as literals (``get_or_create_task_run_info``,
``update_flow_run_heartbeat``, ``flow_run_by_pk``...): each mapped task run sends a new text,
and validating every one of them against the full schema costs far more than executing it.
A document's *shape* is its text with string and number literals masked; once a shape passed
every validation rule, a document of that shape needs only the rule that reads literal values.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

from graphql import ValuesOfCorrectTypeRule

LITERAL_RULES = (ValuesOfCorrectTypeRule,)
"""The validation rules whose outcome depends on literal values."""

_LITERALS = re.compile(r'"(?:[^"\\\n]|\\.)*"|(?<![\w$.])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')


def shape(query: str) -> str | None:
    """The text with its literals masked, or None when the text is not simple enough to mask
    safely (block strings, comments)."""
    if '"""' in query or "#" in query:
        return None
    return _LITERALS.sub("\0", query)


class ValidShapes:
    """The most recent shapes that passed every validation rule (bounded, thread-safe)."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._shapes: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: object) -> bool:
        with self._lock:
            if key in self._shapes:
                self._shapes.move_to_end(key)  # type: ignore[arg-type]
                return True
            return False

    def add(self, key: str) -> None:
        with self._lock:
            self._shapes[key] = None
            self._shapes.move_to_end(key)
            while len(self._shapes) > self.size:
                self._shapes.popitem(last=False)
