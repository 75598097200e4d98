"""The operator's policy for what a run config may ask of the agent's host or cluster.

Whoever can create a flow run (anyone who reaches a Prefect Server without authentication)
chooses its run config. A Docker run config's ``host_config`` and a Kubernetes run config's
job template reach the Docker engine and the cluster with the agent's rights, so what would
escape the container (privileged mode, the host's paths, namespaces, devices, other service
accounts) is refused unless the operator allowed it. Only what comes from the run config is
checked: the agent's own settings and template are the operator's choice.

Each check returns the refusal as one line naming the field, or None when the run may go on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

DOCKER_PERMISSIONS = ("privileged", "host-binds", "host-namespaces", "devices", "capabilities")
"""What ``agent.docker.run_host_config_permissions`` may list."""
POD_PERMISSIONS = ("host-path", "privileged", "host-namespaces")
"""What ``agent.kubernetes.run_pod_permissions`` may list."""

_VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# docker-py ``create_host_config`` keywords by the permission they need. Keys not listed are
# resources, limits and plumbing (memory, CPU, DNS, ports, ulimits, tmpfs, ...): always allowed.
_DOCKER_KEYS = {
    "privileged": "privileged",
    "volumes_from": "host-binds",
    "devices": "devices",
    "device_requests": "devices",
    "device_cgroup_rules": "devices",
    "cap_add": "capabilities",
    "security_opt": "capabilities",
    "sysctls": "capabilities",
    "cgroup_parent": "capabilities",
    "runtime": "capabilities",
    "lxc_conf": "capabilities",
    "init_path": "capabilities",
    "volume_driver": "capabilities",
}
_NAMESPACE_KEYS = ("network_mode", "pid_mode", "ipc_mode", "uts_mode", "userns_mode", "cgroupns")
_POD_NAMESPACE_KEYS = ("hostNetwork", "hostPID", "hostIPC")
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def _refused(field: str, permission: str, setting: str) -> str:
    return (
        f"The run config's {field} is refused by this agent's policy: it needs the "
        f"{permission!r} permission in {setting}"
    )


def _host_path_binds(binds: object) -> Iterable[str]:
    """The host paths among ``binds`` (named volumes are fine)."""
    if isinstance(binds, Mapping):
        sources: Iterable[object] = binds.keys()
    elif isinstance(binds, (list, tuple)):
        sources = [str(b).split(":", 1)[0] for b in binds]
    else:
        return []
    return [str(s) for s in sources if not _VOLUME_NAME.match(str(s))]


def _bind_mounts(mounts: object) -> bool:
    for mount in mounts if isinstance(mounts, (list, tuple)) else ():
        if isinstance(mount, Mapping):
            kind = mount.get("Type", mount.get("type", "volume"))
            source = str(mount.get("Source", mount.get("source", "")) or "")
            if kind != "volume" or (source and not _VOLUME_NAME.match(source)):
                return True
        else:
            return True  # a mount given as a string is docker-CLI syntax: bind or unknown
    return False


def docker_host_config_refusal(
    host_config: Mapping[str, Any] | None, allowed: Sequence[str]
) -> str | None:
    """Why a DockerRun's ``host_config`` may not be used, or None."""
    if not host_config:
        return None
    setting = "agent.docker.run_host_config_permissions"
    for key, value in host_config.items():
        field = f"host_config.{key}"
        needed = _DOCKER_KEYS.get(key)
        if needed == "privileged" and not value:
            continue
        if needed and needed not in allowed:
            return _refused(field, needed, setting)
        if key in _NAMESPACE_KEYS and isinstance(value, str):
            shared = value == "host" or value.startswith("container:")
            if shared and "host-namespaces" not in allowed:
                return _refused(f"{field} ({value})", "host-namespaces", setting)
        if key == "binds" and "host-binds" not in allowed and _host_path_binds(value):
            return _refused(field, "host-binds", setting)
        if key == "mounts" and "host-binds" not in allowed and _bind_mounts(value):
            return _refused(field, "host-binds", setting)
    return None


def _pod_spec(job: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = job.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    pod = template.get("spec") if isinstance(template, Mapping) else None
    return pod if isinstance(pod, Mapping) else {}


def _privileged_container(container: Mapping[str, Any]) -> str | None:
    context = container.get("securityContext")
    if not isinstance(context, Mapping):
        return None
    if context.get("privileged"):
        return "securityContext.privileged"
    if context.get("allowPrivilegeEscalation"):
        return "securityContext.allowPrivilegeEscalation"
    capabilities = context.get("capabilities")
    if isinstance(capabilities, Mapping) and capabilities.get("add"):
        return "securityContext.capabilities.add"
    return None


def pod_refusal(job: Mapping[str, Any], allowed: Sequence[str]) -> str | None:
    """Why a job template from a run config may not be used, or None."""
    setting = "agent.kubernetes.run_pod_permissions"
    pod = _pod_spec(job)
    prefix = "job template's spec.template.spec"
    for index, volume in enumerate(pod.get("volumes") or ()):
        if isinstance(volume, Mapping) and "hostPath" in volume and "host-path" not in allowed:
            return _refused(f"{prefix}.volumes[{index}].hostPath", "host-path", setting)
    for key in _POD_NAMESPACE_KEYS:
        if pod.get(key) and "host-namespaces" not in allowed:
            return _refused(f"{prefix}.{key}", "host-namespaces", setting)
    if "privileged" not in allowed:
        for kind in _CONTAINER_LISTS:
            for index, container in enumerate(pod.get(kind) or ()):
                found = _privileged_container(container) if isinstance(container, Mapping) else None
                if found:
                    return _refused(f"{prefix}.{kind}[{index}].{found}", "privileged", setting)
        pod_context = pod.get("securityContext")
        if isinstance(pod_context, Mapping) and pod_context.get("sysctls"):
            return _refused(f"{prefix}.securityContext.sysctls", "privileged", setting)
    return None


def template_service_account(job: Mapping[str, Any]) -> str | None:
    """The service account a job template names, if any."""
    pod = _pod_spec(job)
    name = pod.get("serviceAccountName") or pod.get("serviceAccount")
    return str(name) if name else None


def service_account_refusal(
    name: str | None, field: str, *, agent_account: str | None, allowed: Sequence[str]
) -> str | None:
    """Why a run config may not run as service account ``name``, or None.

    The agent's own setting is always fine; others must be listed (``*`` lists them all).
    """
    if not name or name == agent_account or "*" in allowed or name in allowed:
        return None
    return (
        f"The run config's {field} {name!r} is refused by this agent's policy: list it in "
        "agent.kubernetes.run_service_accounts"
    )
