"""Building a run's Job from a template, the agent's settings and the run's LaunchSpec."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import attrs

from prefect_agent.adapters.kubernetes.job_checks import job_problems
from prefect_agent.adapters.kubernetes.job_naming import (
    FLOW_ANNOTATION,
    FLOW_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    OWNER_LABEL,
    RUN_ANNOTATION,
    RUN_LABEL,
    RUN_NAME_ANNOTATION,
    job_name,
    label_value,
)
from prefect_agent.domain.agent_config import split_credentials
from prefect_agent.domain.errors import LaunchError
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.images import flow_image
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.launch_spec import LaunchSpec
from prefect_agent.domain.run_config import KubernetesRun

FLOW_CONTAINER = "flow"
DEFAULT_BACKOFF_LIMIT = 0
# The variables that carry the API key: with a configured Secret they reference it instead.
API_KEY_VARIABLES = ("PREFECT__CLOUD__API_KEY", "PREFECT__CLOUD__AUTH_TOKEN")
API_VARIABLE = "PREFECT__CLOUD__API"
RESOURCE_FIELDS = (
    ("requests", "cpu", "cpu_request"),
    ("requests", "memory", "memory_request"),
    ("limits", "cpu", "cpu_limit"),
    ("limits", "memory", "memory_limit"),
)


@attrs.frozen(kw_only=True)
class JobTemplate:
    """A checked template and whether it came from the run config (which changes precedence)."""

    body: Mapping[str, Any]
    source: str
    from_run_config: bool = False


def _flow_container(pod: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod.setdefault("containers", [])
    for container in containers:
        if container.get("name") == FLOW_CONTAINER:
            return container
    if not containers:
        containers.append({"name": FLOW_CONTAINER})
    return containers[0]


def _env_list(spec: LaunchSpec, settings: KubernetesSettings) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for name, value in spec.environment().items():
        secret_key = None
        if settings.api_key_secret_name and name in API_KEY_VARIABLES:
            secret_key = settings.api_key_secret_key
        elif settings.api_key_secret_name and name == API_VARIABLE and split_credentials(value)[1]:
            # An address with user:password@ is a credential too: it comes from the Secret.
            secret_key = settings.api_address_secret_key
        if secret_key is not None:
            entries.append(
                {
                    "name": name,
                    "valueFrom": {
                        "secretKeyRef": {"name": settings.api_key_secret_name, "key": secret_key}
                    },
                }
            )
        else:
            entries.append({"name": name, "value": value})
    return entries


def _resources(container: dict[str, Any], run_config: KubernetesRun) -> None:
    resources = container.setdefault("resources", {})
    for kind, resource, field in RESOURCE_FIELDS:
        value = getattr(run_config, field)
        if value not in (None, ""):
            resources.setdefault(kind, {})[resource] = str(value)


def _pod_identity(
    settings: KubernetesSettings,
    run_config: KubernetesRun,
    pod: dict[str, Any],
    template: JobTemplate,
) -> None:
    """Service account and pull secrets: run config, else a run config template's, else agent's."""
    keep_template = template.from_run_config
    if run_config.service_account_name is not None:
        pod["serviceAccountName"] = run_config.service_account_name
    elif not (keep_template and "serviceAccountName" in pod) and settings.service_account_name:
        pod["serviceAccountName"] = settings.service_account_name
    secrets = run_config.image_pull_secrets or (
        () if keep_template and pod.get("imagePullSecrets") else settings.image_pull_secrets
    )
    if secrets:
        pod["imagePullSecrets"] = [{"name": name} for name in secrets]


def build_job(
    template: JobTemplate,
    run: FlowRun,
    spec: LaunchSpec,
    *,
    settings: KubernetesSettings,
    owner: str,
) -> tuple[dict[str, Any], LaunchSpec]:
    """The Job for ``run`` and the spec it really runs (image resolved against the template).

    Raises ``LaunchError`` naming the template when the result would not be a valid Job.
    """
    assert isinstance(spec.run_config, KubernetesRun)
    run_config = spec.run_config
    job = copy.deepcopy(dict(template.body))
    job["apiVersion"], job["kind"] = "batch/v1", "Job"
    metadata = job.setdefault("metadata", {})
    wanted = metadata.get("namespace")
    if wanted not in (None, "", settings.namespace):
        raise LaunchError(
            f"The job template {template.source} names namespace {wanted!r} but this agent "
            f"creates jobs in {settings.namespace!r}; remove metadata.namespace or run an agent "
            "in that namespace"
        )
    name = job_name(run.id, run.version)
    metadata.pop("generateName", None)
    metadata["name"] = name
    metadata["namespace"] = settings.namespace
    labels = {
        OWNER_LABEL: owner,
        RUN_LABEL: label_value(run.id),
        FLOW_LABEL: label_value(run.flow_id or "unknown"),
        MANAGED_BY_LABEL: MANAGED_BY,
    }
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    metadata["annotations"] = {
        **(metadata.get("annotations") or {}),
        RUN_ANNOTATION: run.id,
        FLOW_ANNOTATION: run.flow_id,
        RUN_NAME_ANNOTATION: run.display_name,
    }
    job_spec = job.setdefault("spec", {})
    job_spec.setdefault("backoffLimit", DEFAULT_BACKOFF_LIMIT)
    pod_template = job_spec.setdefault("template", {})
    pod_metadata = pod_template.setdefault("metadata", {})
    pod_metadata["labels"] = {**(pod_metadata.get("labels") or {}), **labels}
    pod = pod_template.setdefault("spec", {})
    pod.setdefault("restartPolicy", "Never")
    _pod_identity(settings, run_config, pod, template)

    container = _flow_container(pod)
    image = flow_image(run, run_config.image, container.get("image"))
    spec = attrs.evolve(spec, image=image)
    container["image"] = image
    if run_config.image_pull_policy:
        container["imagePullPolicy"] = run_config.image_pull_policy
    # Only args: the image's entrypoint (if any) runs them, as Prefect 1 did.
    container["args"] = list(spec.command)
    generated = _env_list(spec, settings)
    names = {entry["name"] for entry in generated}
    template_env = [e for e in container.get("env") or () if e.get("name") not in names]
    container["env"] = generated + template_env
    _resources(container, run_config)
    # Prefect 1.4.1 accepted these agent settings and ignored them; here they apply.
    if settings.volumes:
        pod["volumes"] = [*(pod.get("volumes") or []), *map(dict, settings.volumes)]
    if settings.volume_mounts:
        container["volumeMounts"] = [
            *(container.get("volumeMounts") or []),
            *map(dict, settings.volume_mounts),
        ]

    problems = job_problems(job)
    if problems:
        raise LaunchError(
            f"The job built from {template.source} for flow run {run.id} is not valid: "
            + "; ".join(problems)
        )
    return job, spec
