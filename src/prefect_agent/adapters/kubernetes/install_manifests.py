"""The manifests ``prefect agent kubernetes install`` prints: agent Deployment, RBAC and Secret."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from prefect_agent.adapters.kubernetes.job_checks import quantity_value, requests_above_limits
from prefect_agent.domain.agent_config import AgentConfig, stop_timeout_seconds
from prefect_agent.domain.secret import Secret

AGENT_NAME = "prefect-agent"
API_KEY_SECRET = "prefect-agent-api-key"
API_KEY_SECRET_KEY = "api-key"
HEALTH_PORT = 8080
DEFAULT_SHUTDOWN_GRACE: float = attrs.fields(AgentConfig).shutdown_grace_seconds.default
IMAGE_REPOSITORY = "prefect-agent"
APP_LABELS = {"app.kubernetes.io/name": AGENT_NAME, "app.kubernetes.io/component": "agent"}

# Exactly what KubernetesPlatform calls: list and watch jobs (check, monitoring, adoption),
# create them, patch the "reported" annotation, delete finished ones; list and watch pods, list
# their events, delete the pods of a cancelled run (with the stop grace period).
RBAC_RULES: tuple[Mapping[str, Any], ...] = (
    {
        "apiGroups": ["batch"],
        "resources": ["jobs"],
        "verbs": ["create", "list", "watch", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
)


@attrs.frozen(kw_only=True)
class InstallOptions:
    """The flags of ``prefect agent kubernetes install`` (spec 9.4 plus ``--image``)."""

    api_key: Secret | None = None
    tenant_id: str | None = None
    labels: tuple[str, ...] = ()
    env_vars: Mapping[str, str] = attrs.field(factory=dict)
    agent_config_id: str | None = None
    api: str = "https://api.prefect.io"
    namespace: str = "default"
    image_pull_secrets: str | None = None
    rbac: bool = True
    latest: bool = False
    image: str | None = None
    mem_request: str | None = None
    mem_limit: str | None = None
    cpu_request: str | None = None
    cpu_limit: str | None = None
    image_pull_policy: str | None = None
    service_account_name: str | None = None
    backend: str = "cloud"
    agent_version: str = "latest"
    """Tag of the default agent image (the CLI passes this package's version)."""

    @property
    def agent_image(self) -> str:
        if self.image:
            return self.image
        return f"{IMAGE_REPOSITORY}:{'latest' if self.latest else self.agent_version}"


def _metadata(name: str, options: InstallOptions) -> dict[str, Any]:
    return {"name": name, "namespace": options.namespace, "labels": dict(APP_LABELS)}


def _env(options: InstallOptions) -> list[dict[str, Any]]:
    values: list[tuple[str, str | None]] = [
        ("PREFECT__BACKEND", options.backend),
        # The agent's name is the owner label of its jobs: cleanup touches only those.
        ("PREFECT__CLOUD__AGENT__NAME", AGENT_NAME),
        ("PREFECT__CLOUD__API", options.api),
        ("PREFECT__CLOUD__AGENT__LABELS", json.dumps(list(options.labels))),
        ("PREFECT__CLOUD__AGENT__AGENT_ADDRESS", f"http://0.0.0.0:{HEALTH_PORT}"),
        ("PREFECT__CLOUD__TENANT_ID", options.tenant_id),
        ("NAMESPACE", options.namespace),
        ("IMAGE_PULL_SECRETS", options.image_pull_secrets),
        ("SERVICE_ACCOUNT_NAME", options.service_account_name),
    ]
    if options.env_vars:
        values.append(("PREFECT__CLOUD__AGENT__ENV_VARS", json.dumps(dict(options.env_vars))))
    env: list[dict[str, Any]] = [
        {"name": name, "value": value} for name, value in values if value is not None
    ]
    if options.api_key:
        reference = {"secretKeyRef": {"name": API_KEY_SECRET, "key": API_KEY_SECRET_KEY}}
        env.append({"name": "PREFECT__CLOUD__API_KEY", "valueFrom": reference})
        # Flow-run jobs then reference the same Secret instead of carrying the key.
        env.append(
            {"name": "PREFECT__AGENT__KUBERNETES__API_KEY_SECRET_NAME", "value": API_KEY_SECRET}
        )
        env.append(
            {"name": "PREFECT__AGENT__KUBERNETES__API_KEY_SECRET_KEY", "value": API_KEY_SECRET_KEY}
        )
    return env


def _within(given: str | None, default: str, bound: str | None, *, at_most: bool) -> str:
    """``given``, else ``default`` moved to ``bound`` if it would cross it, so that a
    default request never exceeds a given limit, nor a default limit a given request."""
    if given or bound is None:
        return given or default
    crosses = quantity_value(default) > quantity_value(bound)
    if not at_most:
        crosses = quantity_value(default) < quantity_value(bound)
    return bound if crosses else default


def _resources(options: InstallOptions) -> dict[str, Any]:
    """The agent container's resources: the flags, defaults for the rest, and never a request
    above its limit (a pod the API server would reject)."""
    requests = {
        "cpu": _within(options.cpu_request, "100m", options.cpu_limit, at_most=True),
        "memory": _within(options.mem_request, "128Mi", options.mem_limit, at_most=True),
    }
    limits = {"memory": _within(options.mem_limit, "512Mi", options.mem_request, at_most=False)}
    if options.cpu_limit:
        limits["cpu"] = options.cpu_limit
    problems = list(requests_above_limits({"requests": requests, "limits": limits}))
    if problems:
        raise ValueError("; ".join(problems))
    return {"requests": requests, "limits": limits}


def _probe(path: str, *, initial: int, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "health"},
        "initialDelaySeconds": initial,
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def deployment(options: InstallOptions) -> dict[str, Any]:
    args = ["--agent-config-id", options.agent_config_id] if options.agent_config_id else []
    container: dict[str, Any] = {
        "name": "agent",
        "image": options.agent_image,
        "imagePullPolicy": options.image_pull_policy
        or ("Always" if options.latest else "IfNotPresent"),
        # `prefect-agent`, not `prefect`: in an image that also holds Prefect core, `prefect`
        # may be Prefect core's own command line.
        "command": ["prefect-agent", "agent", "kubernetes", "start", *args],
        "env": _env(options),
        "ports": [{"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"}],
        "livenessProbe": _probe("/api/health", initial=15, period=30, failures=3),
        "readinessProbe": _probe("/api/ready", initial=5, period=15, failures=2),
        "resources": _resources(options),
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    pod: dict[str, Any] = {
        "containers": [container],
        # Kubernetes' default of 30 s would SIGKILL the agent in the middle of its drain.
        "terminationGracePeriodSeconds": stop_timeout_seconds(DEFAULT_SHUTDOWN_GRACE),
    }
    if options.rbac:
        pod["serviceAccountName"] = AGENT_NAME
    if options.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": options.image_pull_secrets}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(AGENT_NAME, options),
        "spec": {
            # One agent process per identity; Recreate never runs an old and a new one together.
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": dict(APP_LABELS)},
            "template": {"metadata": {"labels": dict(APP_LABELS)}, "spec": pod},
        },
    }


def rbac(options: InstallOptions) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(AGENT_NAME, options)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _metadata(AGENT_NAME, options),
            "rules": [dict(rule) for rule in RBAC_RULES],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _metadata(AGENT_NAME, options),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": AGENT_NAME,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": AGENT_NAME, "namespace": options.namespace}
            ],
        },
    ]


def api_key_secret(options: InstallOptions) -> dict[str, Any]:
    assert options.api_key is not None
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(API_KEY_SECRET, options),
        "type": "Opaque",
        "stringData": {API_KEY_SECRET_KEY: options.api_key.reveal()},
    }


def install_manifests(options: InstallOptions) -> list[dict[str, Any]]:
    """Every object to apply, in an order ``kubectl apply -f`` can create them in."""
    manifests: list[dict[str, Any]] = []
    if options.api_key:
        manifests.append(api_key_secret(options))
    if options.rbac:
        manifests.extend(rbac(options))
    manifests.append(deployment(options))
    return manifests


def render(manifests: Sequence[Mapping[str, Any]]) -> str:
    """Multi-document YAML."""
    import yaml  # only `install` renders YAML: keep it out of every agent's start-up

    return yaml.safe_dump_all(list(manifests), sort_keys=False, default_flow_style=False)
