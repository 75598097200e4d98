"""What the API server would reject in a Job that schemas do not catch, found before sending it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from prefect_agent.adapters.kubernetes.job_naming import LABEL_VALUE, MAX_NAME
from prefect_agent.domain.kubernetes_settings import DNS_1123_LABEL

# A Kubernetes resource quantity: a decimal number with an optional binary (Ki..Ei),
# decimal (n, u, m, k, M..E) or exponent suffix. Requests and limits may not be negative.
QUANTITY = re.compile(
    r"^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
LABEL_KEY_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
DNS_1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


_SUFFIXES = {
    **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
    **{s: Decimal(1000) ** (i + 1) for i, s in enumerate(("k", "M", "G", "T", "P", "E"))},
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
}


def is_quantity(value: object) -> bool:
    return isinstance(value, str) and bool(QUANTITY.match(value))


def quantity_value(value: str) -> Decimal:
    """The amount a quantity stands for (``1Gi`` is 1073741824, ``500m`` is 0.5)."""
    text = value.lstrip("+")
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * _SUFFIXES[suffix]
    return Decimal(text)  # plain, or with a decimal exponent (1e3)


def requests_above_limits(resources: Mapping[str, Any]) -> Iterator[str]:
    """The resources whose request exceeds the limit (the API server rejects such pods)."""
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    for resource, request in requests.items():
        limit = limits.get(resource)
        if (
            is_quantity(request)
            and is_quantity(limit)
            and quantity_value(request) > quantity_value(limit)
        ):
            yield f"{resource} request {request} is above its limit {limit}"


def _label_key_problems(key: str) -> Iterator[str]:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_1123_SUBDOMAIN.match(prefix)):
        yield f"label key {key!r} has an invalid prefix"
    if not name or len(name) > MAX_NAME or not LABEL_KEY_NAME.match(name):
        yield f"label key {key!r} is not a valid label name"


def _label_problems(where: str, labels: Mapping[str, Any]) -> Iterator[str]:
    for key, value in labels.items():
        for problem in _label_key_problems(str(key)):
            yield f"{where}: {problem}"
        if not isinstance(value, str) or len(value) > MAX_NAME or not LABEL_VALUE.match(value):
            yield f"{where}: label {key}={value!r} is not a valid label value"


def _container_problems(index: int, container: Mapping[str, Any]) -> Iterator[str]:
    where = f"spec.template.spec.containers[{index}]"
    name = container.get("name")
    if not isinstance(name, str) or len(name) > MAX_NAME or not DNS_1123_LABEL.match(name):
        yield f"{where}.name {name!r} is not a DNS-1123 label"
    if not container.get("image"):
        yield f"{where}.image is missing"
    for kind in ("requests", "limits"):
        for resource, quantity in ((container.get("resources") or {}).get(kind) or {}).items():
            if not is_quantity(quantity):
                yield f"{where}.resources.{kind}.{resource} {quantity!r} is not a quantity"
    for problem in requests_above_limits(container.get("resources") or {}):
        yield f"{where}.resources: {problem}"
    for entry in container.get("env") or ():
        env_name = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(env_name, str) or not ENV_NAME.match(env_name):
            yield f"{where}.env: {env_name!r} is not a valid environment variable name"


def job_problems(job: Mapping[str, Any]) -> list[str]:
    """Every problem the API server would find in ``job`` beyond its schema, one line each."""
    problems: list[str] = []
    metadata = job.get("metadata") or {}
    name = metadata.get("name")
    if not isinstance(name, str) or len(name) > MAX_NAME or not DNS_1123_LABEL.match(name):
        problems.append(f"metadata.name {name!r} is not a DNS-1123 label of at most 63 characters")
    problems.extend(_label_problems("metadata.labels", metadata.get("labels") or {}))
    spec = job.get("spec") or {}
    backoff = spec.get("backoffLimit")
    if backoff is not None and (not isinstance(backoff, int) or backoff < 0):
        problems.append(f"spec.backoffLimit must be a non-negative integer, not {backoff!r}")
    template = spec.get("template") or {}
    problems.extend(
        _label_problems(
            "spec.template.metadata.labels", (template.get("metadata") or {}).get("labels") or {}
        )
    )
    pod = template.get("spec") or {}
    if pod.get("restartPolicy") != "Never":
        problems.append(
            f"spec.template.spec.restartPolicy must be Never, not {pod.get('restartPolicy')!r}"
        )
    containers = pod.get("containers") or []
    if not containers:
        problems.append("spec.template.spec.containers is empty")
    for index, container in enumerate(containers):
        problems.extend(_container_problems(index, container))
    return problems
