"""Slugs of flow and run names, as python-slugify made them for Prefect 1.4.1's ECS and
Vertex agents (task definition families, custom job display names)."""

from __future__ import annotations

import re
import unicodedata

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def slug(text: str, max_length: int = 0) -> str:
    """Lower-case ASCII words joined by ``-``; cut at a word boundary within ``max_length``
    (a first word longer than that is cut itself), words kept in order."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = [w for w in _NOT_ALNUM.split(ascii_text.lower()) if w]
    joined = "-".join(words)
    if not max_length or len(joined) <= max_length:
        return joined
    kept = ""
    for word in words:
        candidate = f"{kept}-{word}" if kept else word
        if len(candidate) > max_length:
            break
        kept = candidate
    return kept or joined[:max_length].strip("-")
