"""Validating generated manifests: the official schema (strict) plus what schemas miss."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

kubernetes_validate = pytest.importorskip("kubernetes_validate")

KUBERNETES_VERSION = "1.30.0"
"""A version every supported cluster line still covers; schemas are bundled with the package."""


def assert_valid(manifest: Mapping[str, Any]) -> None:
    """Raise with the schema's complaint when ``manifest`` is not a valid object, strictly."""
    try:
        kubernetes_validate.validate(dict(manifest), KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        raise AssertionError(
            f"{manifest.get('kind')} {manifest.get('metadata', {}).get('name')}: {exc.message} "
            f"at {'.'.join(str(p) for p in exc.path)}"
        ) from None
