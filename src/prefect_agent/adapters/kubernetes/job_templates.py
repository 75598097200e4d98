"""Reading Job templates: the packaged default, an agent path, or a run config's own."""

from __future__ import annotations

import copy
import urllib.error
import urllib.request
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

DEFAULT_TEMPLATE = "job_template.yaml"
TEMPLATE_FETCH_TIMEOUT = 30.0


class TemplateError(Exception):
    """A template could not be read or is not a usable Job; the message names its source."""


def default_template() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(DEFAULT_TEMPLATE).read_text(encoding="utf-8")
    return parse_template(text, f"the packaged {DEFAULT_TEMPLATE}")


def _read(location: str) -> str:
    parsed = urlparse(location)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(location, timeout=TEMPLATE_FETCH_TIMEOUT) as response:
                body: bytes = response.read()
                return body.decode("utf-8")
        except (urllib.error.URLError, OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"could not fetch the job template {location}: {exc}") from None
    if scheme in ("agent", "file", "local"):
        # agent:///abs/path and agent://rel/path both mean a path on the agent's host.
        path = Path((parsed.netloc + parsed.path) if scheme == "agent" else parsed.path)
    elif scheme == "" or len(scheme) == 1:  # a plain path (or a Windows drive letter)
        path = Path(location)
    else:
        raise TemplateError(
            f"job template {location}: the {scheme}:// scheme is not supported "
            "(use a local path, agent://, file://, http:// or https://)"
        )
    try:
        return path.expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"could not read the job template {location}: {exc}") from None


def load_template(location: str) -> dict[str, Any]:
    """The Job template at ``location`` (a path, ``agent://``, ``file://``, ``http(s)://``)."""
    return parse_template(_read(location), location)


def parse_template(text: str, source: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TemplateError(f"job template {source} is not valid YAML: {exc}") from None
    return checked_template(document, source)


def checked_template(document: object, source: str) -> dict[str, Any]:
    """A deep copy of ``document`` if it is shaped like a batch/v1 Job, else a TemplateError."""
    if not isinstance(document, Mapping):
        raise TemplateError(
            f"job template {source} must be a mapping (a Job), not {document!r:.60}"
        )
    job: dict[str, Any] = copy.deepcopy(_plain(document))
    kind = job.get("kind", "Job")
    api_version = job.get("apiVersion", "batch/v1")
    if kind != "Job" or api_version != "batch/v1":
        raise TemplateError(
            f"job template {source} must be a batch/v1 Job, not {api_version}/{kind}"
        )
    for path in (("metadata",), ("spec",), ("spec", "template"), ("spec", "template", "spec")):
        node: Any = job
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if node is not None and not isinstance(node, Mapping):
            raise TemplateError(f"job template {source}: {'.'.join(path)} must be a mapping")
    containers = job.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
    if containers is not None and (
        not isinstance(containers, list) or not all(isinstance(c, Mapping) for c in containers)
    ):
        raise TemplateError(
            f"job template {source}: spec.template.spec.containers must be a list of mappings"
        )
    return job


def _plain(value: Any) -> Any:
    """``value`` with every mapping (including read-only ones) turned into a plain dict."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
