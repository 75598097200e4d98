"""The container's host config: the agent's settings merged with the run config's.

Prefect 1.4.1 applied ``DockerRun.host_config`` with ``dict.update``, so a run that set
``binds`` lost the agent's volumes and one that set ``extra_hosts`` lost the
``host.docker.internal`` mapping. Here lists and maps are merged (the run wins on the same
container path or host name), scalar options from the run win, and ``auto_remove`` is
always off because the agent must read the exit status before the container goes away
(removal follows ``container_removal``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from prefect_agent.adapters.docker.api_address import HOST_GATEWAY_NAME, can_map_hosts
from prefect_agent.adapters.docker.volumes import Volume
from prefect_agent.domain.errors import LaunchError

HOST_GATEWAY = "host-gateway"
HOST_NETWORK_MODES = ("host", "none")


@attrs.frozen
class HostConfig:
    """docker-py ``create_host_config`` keyword arguments, plus notes for the run's logs."""

    options: Mapping[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def network_mode(self) -> str | None:
        mode = self.options.get("network_mode")
        return str(mode) if mode else None


def _bind_strings(binds: Any, where: str) -> list[str]:
    if isinstance(binds, Mapping):
        out = []
        for source, target in binds.items():
            if isinstance(target, Mapping):
                out.append(f"{source}:{target['bind']}:{target.get('mode', 'rw')}")
            else:
                out.append(f"{source}:{target}")
        return out
    if isinstance(binds, (list, tuple)):
        return [str(b) for b in binds]
    raise LaunchError(f"{where} binds must be a list or a mapping, not {type(binds).__name__}")


def _bind_target(bind: str) -> str:
    parts = bind.split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _hosts(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        hosts = {}
        for entry in value:
            name, sep, address = str(entry).partition(":")
            if not sep:
                raise LaunchError(f"{where} extra_hosts entry {entry!r} is not HOST:ADDRESS")
            hosts[name] = address
        return hosts
    raise LaunchError(f"{where} extra_hosts must be a list or a mapping")


def default_network_mode(networks: Sequence[str]) -> str | None:
    """The first network sets the mode when it is ``host`` or ``none`` (as in Prefect 1)."""
    if networks and networks[0] in HOST_NETWORK_MODES:
        return networks[0]
    return None


def merge_host_config(
    *,
    volumes: Sequence[Volume],
    networks: Sequence[str],
    run_host_config: Mapping[str, Any] | None,
) -> HostConfig:
    """The agent's options, then the run config's on top, merged as the module says."""
    where = "The run config's host_config"
    run = dict(run_host_config or {})
    notes = []
    if run.pop("auto_remove", False):
        notes.append(
            "host_config auto_remove was ignored: the agent removes containers itself after "
            "reading their exit status"
        )
    options: dict[str, Any] = {"auto_remove": False}
    mode = default_network_mode(networks)
    if mode:
        options["network_mode"] = mode
    binds = [f"{v.source}:{v.target}:{v.mode}" for v in volumes]
    if "binds" in run:
        run_binds = _bind_strings(run.pop("binds"), where)
        overridden = {_bind_target(b) for b in run_binds}
        binds = [b for b in binds if _bind_target(b) not in overridden] + run_binds
    if binds:
        options["binds"] = binds
    run_hosts = _hosts(run.pop("extra_hosts"), where) if "extra_hosts" in run else {}
    options.update(run)
    final_mode = options.get("network_mode")
    hosts = {HOST_GATEWAY_NAME: HOST_GATEWAY} if can_map_hosts(final_mode) else {}
    hosts.update(run_hosts)
    if hosts:
        options["extra_hosts"] = hosts
    return HostConfig(options=options, notes=tuple(notes))
