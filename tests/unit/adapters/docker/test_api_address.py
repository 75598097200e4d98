"""The API address a container is given."""

from __future__ import annotations

import pytest

from prefect_agent.adapters.docker.api_address import can_map_hosts, container_api_address


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ("http://localhost:4200", "http://host.docker.internal:4200"),
        ("http://127.0.0.1:9999/graphql", "http://host.docker.internal:9999/graphql"),
        ("http://[::1]:4200", "http://host.docker.internal:4200"),
        ("https://localhost", "https://host.docker.internal"),
        ("https://api.prefect.io", "https://api.prefect.io"),
        ("http://10.0.0.5:4200", "http://10.0.0.5:4200"),
    ],
)
def test_loopback_is_rewritten_for_a_container_network(api: str, expected: str) -> None:
    assert container_api_address(api, network_mode=None) == expected


def test_the_host_network_keeps_loopback() -> None:
    assert container_api_address("http://127.0.0.1:4200", network_mode="host") == (
        "http://127.0.0.1:4200"
    )


def test_the_prefect_server_network_uses_apollo() -> None:
    assert (
        container_api_address(
            "http://localhost:4200", network_mode=None, networks=["prefect-server"]
        )
        == "http://apollo:4200"
    )


def test_an_explicit_container_api_url_wins() -> None:
    assert (
        container_api_address("http://localhost:4200", network_mode="host", override="http://gw:1")
        == "http://gw:1"
    )


def test_host_mapping_is_impossible_on_shared_namespaces() -> None:
    assert can_map_hosts(None) and can_map_hosts("my-net")
    assert not can_map_hosts("host")
    assert not can_map_hosts("none")
    assert not can_map_hosts("container:abc")
