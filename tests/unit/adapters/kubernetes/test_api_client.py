from __future__ import annotations

from pathlib import Path

import pytest

from prefect_agent.adapters.kubernetes.api_client import cluster_client
from prefect_agent.domain.errors import ConfigError

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: not-a-real-token}
contexts:
- name: ctx
  context: {cluster: c, user: u, namespace: flows}
current-context: ctx
"""


@pytest.fixture(autouse=True)
def outside_a_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)


def test_outside_a_cluster_the_kubeconfig_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(path))
    api = cluster_client()
    assert api.configuration.host == "https://127.0.0.1:6443"


def test_without_cluster_or_kubeconfig_the_error_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"cannot reach a Kubernetes cluster.*set KUBECONFIG"):
        cluster_client()


@pytest.mark.parametrize("keep_alive", [False, True])
def test_keep_alive_sets_tcp_keep_alive_on_real_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_alive: bool
) -> None:
    # Prefect 1.4.1's cloud.agent.kubernetes_keep_alive: probes after 6 s idle, every 30 s.
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    path = tmp_path / "config"
    path.write_text(KUBECONFIG.replace("https://127.0.0.1:6443", f"http://127.0.0.1:{port}"))
    monkeypatch.setenv("KUBECONFIG", str(path))
    api = cluster_client(keep_alive=keep_alive)
    pool = api.rest_client.pool_manager.connection_from_url(f"http://127.0.0.1:{port}")
    connection = pool._get_conn()
    try:
        connection.connect()
        sock = connection.sock
        assert bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)) is keep_alive
        if keep_alive and hasattr(socket, "TCP_KEEPIDLE"):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 6
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 30
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 6
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)  # urllib3's default
    finally:
        connection.close()
        listener.close()


def test_the_prefect_1_keep_alive_key_reaches_the_settings() -> None:
    from prefect_agent.adapters.config.env_source import EnvSource
    from prefect_agent.adapters.config.resolution import resolve
    from prefect_agent.domain.platform_kind import PlatformKind

    env = {"PREFECT__CLOUD__AGENT__KUBERNETES_KEEP_ALIVE": "true"}
    config = resolve(PlatformKind.KUBERNETES, [EnvSource(PlatformKind.KUBERNETES, env)]).config
    assert config.platform.keep_alive is True  # type: ignore[union-attr]
