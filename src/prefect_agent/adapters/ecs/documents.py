"""Reading YAML documents (task definitions, run_task kwargs) from a path or a URL."""

from __future__ import annotations

import copy
import io
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

DEFAULT_TASK_DEFINITION = "task_definition.yaml"
FETCH_TIMEOUT = 30.0

S3Reader = Callable[[str, str], bytes]
"""Reads ``(bucket, key)`` from S3; the platform passes one built on its own boto3 session."""


class DocumentError(Exception):
    """A document could not be read or is not a mapping; the message names its location."""


def default_task_definition() -> dict[str, Any]:
    """The packaged task definition (Prefect 1.4.1's: awsvpc, 1 vCPU, 2 GB, a ``flow``
    container)."""
    text = resources.files(__package__).joinpath(DEFAULT_TASK_DEFINITION).read_text("utf-8")
    return parse_mapping(text, f"the packaged {DEFAULT_TASK_DEFINITION}")


def _read(location: str, s3: S3Reader | None) -> bytes:
    parsed = urlparse(location)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(location, timeout=FETCH_TIMEOUT) as response:
                body: bytes = response.read()
                return body
        except (urllib.error.URLError, OSError) as exc:
            raise DocumentError(f"could not fetch {location}: {exc}") from None
    if scheme == "s3":
        if s3 is None:
            raise DocumentError(f"{location}: s3:// needs the ECS platform's AWS session")
        try:
            return s3(parsed.netloc, parsed.path.lstrip("/"))
        except Exception as exc:  # botocore's errors: any of them means "cannot read"
            raise DocumentError(f"could not read {location}: {exc}") from None
    if scheme in ("agent", "file", "local"):
        # agent:///abs/path and agent://rel/path both mean a path on the agent's host.
        path = Path((parsed.netloc + parsed.path) if scheme == "agent" else parsed.path)
    elif scheme == "" or len(scheme) == 1:  # a plain path (or a Windows drive letter)
        path = Path(location)
    else:
        raise DocumentError(
            f"{location}: the {scheme}:// scheme is not supported "
            "(use a path, agent://, file://, http(s):// or s3://)"
        )
    try:
        return path.expanduser().read_bytes()
    except OSError as exc:
        raise DocumentError(f"could not read {location}: {exc}") from None


def load_mapping(location: str, s3: S3Reader | None = None) -> dict[str, Any]:
    """The YAML mapping at ``location``: a path, ``agent://``, ``file://``, ``http(s)://``
    or ``s3://bucket/key``."""
    data = _read(location, s3)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentError(f"{location} is not UTF-8 text") from None
    return parse_mapping(text, location)


def parse_mapping(text: str, source: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(io.StringIO(text))
    except yaml.YAMLError as exc:
        raise DocumentError(f"{source} is not valid YAML: {exc}") from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise DocumentError(f"{source} must be a YAML mapping, not {type(document).__name__}")
    return plain_dict(document)


def plain_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = plain(value)
    return copied


def plain(value: Any) -> Any:
    """A deep, mutable copy made of dicts and lists (run configs hold read-only mappings)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return copy.copy(value)
