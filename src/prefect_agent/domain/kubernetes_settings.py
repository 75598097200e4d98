"""Settings only the Kubernetes platform uses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from prefect_agent.domain.frozen import str_tuple
from prefect_agent.domain.launch_policy import POD_PERMISSIONS
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.validators import (
    non_empty_strings,
    non_negative,
    positive,
    subset_of,
)

DEFAULT_RUN_TEMPLATE_URLS = ("https://*", "s3://*", "gs://*", "gcs://*")
"""Where run configs' job_template_path may point by default: never the agent's files, never
plain http (cloud metadata endpoints answer there)."""

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

    namespace: str = attrs.field(
        default="default",
        validator=_dns_label,
        metadata={"help": "The namespace flow-run jobs are created in."},
    )
    service_account_name: str | None = attrs.field(
        default=None, metadata={"help": "The service account of flow-run jobs."}
    )
    image_pull_secrets: tuple[str, ...] = attrs.field(
        default=(),
        converter=str_tuple,
        validator=non_empty_strings,
        metadata={"help": "Comma-separated image pull secrets of flow-run jobs."},
    )
    job_template_path: str | None = attrs.field(
        default=None, metadata={"help": "Path or URL of the job template YAML."}
    )
    delete_finished_jobs: bool = attrs.field(
        default=True, metadata={"help": "Delete the jobs of finished flow runs."}
    )
    keep_alive: bool = attrs.field(
        default=False,
        metadata={"help": "TCP keep-alive on the agent's connections to the Kubernetes API."},
    )
    """TCP keep-alive probes, so idle connections through NATs and load balancers survive."""
    volume_mounts: tuple[Mapping[str, Any], ...] = attrs.field(
        default=(),
        converter=tuple,
        metadata={"help": "Volume mounts of flow-run jobs (constructor-only in 1.4.1)."},
    )
    volumes: tuple[Mapping[str, Any], ...] = attrs.field(
        default=(),
        converter=tuple,
        metadata={"help": "Volumes of flow-run jobs (constructor-only in 1.4.1)."},
    )
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
    stop_grace_seconds: float | None = attrs.field(
        default=None,
        validator=non_negative,
        metadata={
            "help": "Grace period (SIGTERM to SIGKILL) of a cancelled run's pods "
            "(default: their own terminationGracePeriodSeconds)."
        },
    )
    """Deletion grace period of a cancelled run's pods; None leaves each pod's own."""
    job_sync_interval_seconds: float = attrs.field(
        default=10.0,
        validator=positive,
        metadata={"help": "Seconds between two passes judging the jobs that changed."},
    )
    job_template_max_bytes: int = attrs.field(
        default=1024 * 1024,
        validator=positive,
        metadata={"help": "Largest job template read from a file or URL, in bytes."},
    )
    job_template_timeout_seconds: float = attrs.field(
        default=10.0,
        validator=positive,
        metadata={"help": "Seconds a job template fetch may take in total."},
    )
    run_template_dir: str | None = attrs.field(
        default=None,
        metadata={
            "help": "Run configs' job_template_path may name files under this directory "
            "of the agent's host (default: no agent files)."
        },
    )
    run_template_urls: tuple[str, ...] = attrs.field(
        default=DEFAULT_RUN_TEMPLATE_URLS,
        converter=str_tuple,
        validator=non_empty_strings,
        metadata={
            "help": "URL patterns (* wildcards) run configs' job_template_path may match "
            "(default: https, s3, gs and gcs URLs)."
        },
    )
    run_pod_permissions: tuple[str, ...] = attrs.field(
        default=(),
        converter=str_tuple,
        validator=subset_of(POD_PERMISSIONS),
        metadata={
            "help": "What a run config's job template may use: "
            + ", ".join(POD_PERMISSIONS)
            + " (default: none of them; docs/security.md)."
        },
    )
    run_service_accounts: tuple[str, ...] = attrs.field(
        default=(),
        converter=str_tuple,
        validator=non_empty_strings,
        metadata={
            "help": "Service accounts run configs may ask for besides the agent's "
            "service_account_name (* for any)."
        },
    )
    api_address_secret_key: str = attrs.field(
        default="api",
        metadata={
            "help": "Key of the API address inside api_key_secret_name, used when the "
            "address carries credentials."
        },
    )
