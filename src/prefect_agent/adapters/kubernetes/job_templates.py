"""Job templates: the packaged default, the agent's, a run config's; where a run config may
read one from."""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from prefect_agent.adapters.kubernetes.template_fetch import (
    FetchError,
    FetchLimits,
    fetch,
    is_url,
    local_path,
)

DEFAULT_TEMPLATE = "job_template.yaml"
_IDENTIFIER = re.compile(r"^[A-Za-z0-9./-]{1,80}$")
"""An apiVersion/kind pair is shown only when it looks like one (never a file's content)."""


class TemplateError(Exception):
    """A template could not be read or is not a usable Job; the message names its source."""


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases: ``*ref`` expansion turns kilobytes into gigabytes
    (a "billion laughs"), and a job template has no need for it."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not accepted in job templates", mark
            )
        return super().compose_node(parent, index)


def default_template() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(DEFAULT_TEMPLATE).read_text(encoding="utf-8")
    return parse_template(text, f"the packaged {DEFAULT_TEMPLATE}")


def load_template(location: str, limits: FetchLimits | None = None) -> dict[str, Any]:
    """The Job template at ``location`` (a path, ``agent://``, ``file://``, ``http(s)://``,
    ``s3://``, ``gs://``/``gcs://``), read within ``limits``."""
    try:
        data = fetch(location, limits or FetchLimits())
    except FetchError as exc:
        raise TemplateError(str(exc)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TemplateError(f"job template {location} is not UTF-8 text") from None
    return parse_template(text, location)


def parse_template(text: str, source: str) -> dict[str, Any]:
    try:
        document = yaml.load(text, Loader=_NoAliasLoader)
    except yaml.MarkedYAMLError as exc:
        # PyYAML's own message quotes the offending line: the position and problem are enough.
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TemplateError(
            f"job template {source} is not valid YAML{where}: "
            f"{exc.problem or exc.context or 'a syntax error'}"
        ) from None
    except yaml.YAMLError:
        raise TemplateError(f"job template {source} is not valid YAML") from None
    except RecursionError:
        raise TemplateError(f"job template {source} is nested too deeply") from None
    return checked_template(document, source)


def source_refusal(location: str, *, allowed_dir: str | None, allowed_urls: Sequence[str]) -> str:
    """Why a run config may not read its template from ``location`` ("" when it may).

    URLs must match one of ``allowed_urls`` (``*`` wildcards); agent files must resolve
    (symbolic links and ``..`` followed) to a path under ``allowed_dir``.
    """
    if is_url(location):
        if any(fnmatch.fnmatchcase(location, pattern) for pattern in allowed_urls):
            return ""
        return (
            f"The run config's job_template_path {location} is refused by this agent's policy: "
            "it matches no pattern of agent.kubernetes.run_template_urls"
        )
    if allowed_dir:
        root = Path(allowed_dir).expanduser().resolve()
        if local_path(location).resolve().is_relative_to(root):
            return ""
    return (
        f"The run config's job_template_path {location} is refused by this agent's policy: "
        "it is a file of the agent's host outside agent.kubernetes.run_template_dir"
    )


def checked_template(document: object, source: str) -> dict[str, Any]:
    """A deep copy of ``document`` if it is shaped like a batch/v1 Job, else a TemplateError."""
    if not isinstance(document, Mapping):
        raise TemplateError(
            f"job template {source} must be a mapping (a Job), not {type(document).__name__}"
        )
    job: dict[str, Any] = copy.deepcopy(_plain(document))
    kind = job.get("kind", "Job")
    api_version = job.get("apiVersion", "batch/v1")
    if kind != "Job" or api_version != "batch/v1":
        found = f"{api_version}/{kind}"
        shown = f", not {found}" if _IDENTIFIER.match(found) else ""
        raise TemplateError(f"job template {source} must be a batch/v1 Job{shown}")
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
