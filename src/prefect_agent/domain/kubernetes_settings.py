"""Settings only the Kubernetes platform uses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from prefect_agent.domain.frozen import str_tuple
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.validators import non_empty_strings, non_negative, positive

DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _dns_label(_: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and (len(value) > 63 or not DNS_1123_LABEL.match(value)):
        raise ValueError(
            f"{attribute.name} must be a DNS-1123 label (lower-case letters, digits and '-', "
            f"at most 63 characters), not {value!r}"
        )


@attrs.frozen(kw_only=True)
class KubernetesSettings:
    kind: ClassVar[PlatformKind] = PlatformKind.KUBERNETES

    namespace: str = attrs.field(default="default", validator=_dns_label)
    service_account_name: str | None = None
    image_pull_secrets: tuple[str, ...] = attrs.field(
        default=(), converter=str_tuple, validator=non_empty_strings
    )
    job_template_path: str | None = None
    delete_finished_jobs: bool = True
    keep_alive: bool = attrs.field(
        default=False,
        metadata={"help": "TCP keep-alive on the agent's connections to the Kubernetes API."},
    )
    """TCP keep-alive probes, so idle connections through NATs and load balancers survive."""
    volume_mounts: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=tuple)
    volumes: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=tuple)
    api_key_secret_name: str | None = attrs.field(
        default=None,
        metadata={
            "help": "Secret (in the jobs' namespace) holding the API key; jobs then reference "
            "it (secretKeyRef) instead of carrying the key."
        },
    )
    """A Kubernetes Secret holding the API key; jobs then get a secretKeyRef, not the value."""
    api_key_secret_key: str = attrs.field(
        default="key", metadata={"help": "Key of the API key inside api_key_secret_name."}
    )
    pending_deadline_seconds: float = attrs.field(
        default=600,
        validator=positive,
        metadata={"help": "Seconds a job's pod may stay Pending before its run is failed."},
    )
    """A pod still Pending after this long fails its run."""
    failed_job_ttl_seconds: float = attrs.field(
        default=3600,
        validator=non_negative,
        metadata={"help": "Seconds a failed job is kept for inspection before it is deleted."},
    )
    """How long a failed job is kept for inspection before this agent deletes it."""
    job_owner: str | None = attrs.field(
        default=None,
        metadata={
            "help": "Label value marking this agent's jobs (default: the agent name); "
            "cleanup and adoption touch only jobs carrying it."
        },
    )
    job_sync_interval_seconds: float = attrs.field(
        default=10.0,
        validator=positive,
        metadata={"help": "Seconds between two label-selected listings of this agent's jobs."},
    )
