"""Fields of a Job body that the Kubernetes API does not know, found by walking the official
client's models, so a typo in a job template (``imagePullPolicyy``) fails its run at once.

The API server would drop such a field with at most a warning, and the run would start with
something else than the template asked for. Releases of the client that validate bodies
themselves (37 and later, pydantic models without ``attribute_map``) are left to do so."""

from __future__ import annotations

import re
from typing import Any

from kubernetes import client as models

_LIST = re.compile(r"^list\[(.+)\]$")
_DICT = re.compile(r"^dict\(str, (.+)\)$")


def unknown_fields(body: Any, model: str = "V1Job", path: str = "") -> list[str]:
    """The dotted paths (list items by index) of ``body``'s fields that ``model`` lacks."""
    cls = getattr(models, model, None)
    names = getattr(cls, "attribute_map", None)
    if not isinstance(names, dict) or not isinstance(body, dict):
        return []
    attribute_of = {json_name: attribute for attribute, json_name in names.items()}
    found: list[str] = []
    for key, value in body.items():
        here = f"{path}.{key}" if path else str(key)
        attribute = attribute_of.get(key)
        if attribute is None:
            found.append(here)
        else:
            found += _unknown_in(value, cls.openapi_types[attribute], here)  # type: ignore[union-attr]
    return found


def _unknown_in(value: Any, type_name: str, path: str) -> list[str]:
    if (item := _LIST.match(type_name)) and isinstance(value, list):
        return [
            f for i, v in enumerate(value) for f in _unknown_in(v, item.group(1), f"{path}.{i}")
        ]
    if (item := _DICT.match(type_name)) and isinstance(value, dict):
        return [f for k, v in value.items() for f in _unknown_in(v, item.group(1), f"{path}.{k}")]
    return unknown_fields(value, type_name, path)
