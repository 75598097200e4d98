"""Merging the run config's host_config over the agent's without losing the agent's options."""

from __future__ import annotations

import pytest

from prefect_agent.adapters.docker.host_config import merge_host_config
from prefect_agent.adapters.docker.volumes import Volume
from prefect_agent.domain.errors import LaunchError

AGENT_VOLUMES = (Volume("/srv/a", "/a"), Volume("cache", "/cache", "ro", named=True))


def test_the_agent_defaults() -> None:
    merged = merge_host_config(volumes=AGENT_VOLUMES, networks=(), run_host_config=None)
    assert merged.options == {
        "auto_remove": False,
        "binds": ["/srv/a:/a:rw", "cache:/cache:ro"],
        "extra_hosts": {"host.docker.internal": "host-gateway"},
    }
    assert merged.network_mode is None


def test_run_binds_are_added_and_win_on_the_same_container_path() -> None:
    merged = merge_host_config(
        volumes=AGENT_VOLUMES,
        networks=(),
        run_host_config={"binds": {"/mine": {"bind": "/a", "mode": "ro"}, "/x": "/x"}},
    )
    assert merged.options["binds"] == ["cache:/cache:ro", "/mine:/a:ro", "/x:/x"]


def test_extra_hosts_are_merged_and_scalars_from_the_run_win() -> None:
    merged = merge_host_config(
        volumes=(),
        networks=(),
        run_host_config={"extra_hosts": ["db:10.0.0.2"], "mem_limit": "1g", "auto_remove": True},
    )
    assert merged.options["extra_hosts"] == {
        "host.docker.internal": "host-gateway",
        "db": "10.0.0.2",
    }
    assert merged.options["mem_limit"] == "1g"
    assert merged.options["auto_remove"] is False
    assert "auto_remove was ignored" in merged.notes[0]


@pytest.mark.parametrize("mode", ["host", "none"])
def test_host_and_none_networks_set_the_mode_and_drop_the_host_mapping(mode: str) -> None:
    merged = merge_host_config(volumes=(), networks=(mode, "other"), run_host_config=None)
    assert merged.network_mode == mode
    assert "extra_hosts" not in merged.options


def test_the_run_can_choose_the_network_mode() -> None:
    merged = merge_host_config(volumes=(), networks=(), run_host_config={"network_mode": "host"})
    assert merged.network_mode == "host"
    assert "extra_hosts" not in merged.options


def test_malformed_extra_hosts_fail_the_run() -> None:
    with pytest.raises(LaunchError, match="'db' is not HOST:ADDRESS"):
        merge_host_config(volumes=(), networks=(), run_host_config={"extra_hosts": ["db"]})
