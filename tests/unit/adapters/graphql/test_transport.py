"""HttpTransport against real peers: keep-alive, hung-up connections, what counts as sent,
TLS with a private CA, and forward proxies (CONNECT tunnels and absolute-form requests)."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trustme

from prefect_agent.adapters.graphql.transport import HttpTransport, TransportError, proxy_for
from prefect_agent.domain.errors import ConfigError
from tests.network import free_port
from tests.polling import eventually
from tests.unit.adapters.graphql.proxy_peer import forward_proxy
from tests.unit.adapters.graphql.scripted_api import Reply, ScriptedApi, scripted_api

BODY = json.dumps({"query": "{ hello }"}).encode()
HEADERS = {"Content-Type": "application/json"}
NO_ENV: dict[str, str] = {}


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with scripted_api() as server:
        yield server


def test_requests_share_one_kept_alive_connection(api: ScriptedApi) -> None:
    transport = HttpTransport(api.url, timeout=5, environ=NO_ENV)
    answers = [transport.post(BODY, HEADERS) for _ in range(5)]
    assert [a.status for a in answers] == [200] * 5
    assert json.loads(answers[0].body) == {"data": {"hello": "hi"}}
    assert answers[0].headers["content-length"] == str(len(answers[0].body))
    assert api.connections == 1
    assert api.received[0].body == {"query": "{ hello }"}


def test_a_connection_the_server_hung_up_is_replaced_silently(api: ScriptedApi) -> None:
    """As when the server's keep-alive timeout closed an idle connection."""
    transport = HttpTransport(api.url, timeout=5, environ=NO_ENV)
    api.script(Reply(hang_up=True), Reply(hang_up=True))
    for closed in (1, 2):
        assert transport.post(BODY, HEADERS).status == 200
        eventually(lambda closed=closed: api.closed == closed, "the server closing")  # type: ignore[misc]
    assert transport.post(BODY, HEADERS).status == 200
    assert api.connections == 3
    assert len(api.received) == 3  # nothing was sent twice


def test_concurrent_requests_each_get_a_connection(api: ScriptedApi) -> None:
    release = threading.Event()
    api.script(Reply(hold=release), Reply(hold=release))
    transport = HttpTransport(api.url, timeout=5, pool_size=1, environ=NO_ENV)
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(transport.post(BODY, HEADERS).status))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == [200, 200]
    assert api.connections == 2
    transport.post(BODY, HEADERS)  # the pool kept one of them (pool_size=1)
    assert api.connections == 2


def test_an_unreachable_server_means_never_sent() -> None:
    transport = HttpTransport(f"http://127.0.0.1:{free_port()}", timeout=5, environ=NO_ENV)
    with pytest.raises(TransportError, match="could not connect") as caught:
        transport.post(BODY, HEADERS)
    assert caught.value.sent is False and caught.value.timed_out is False


def test_an_unknown_host_means_never_sent() -> None:
    transport = HttpTransport("http://no-such-host.invalid:4200", timeout=5, environ=NO_ENV)
    with pytest.raises(TransportError, match="name not resolved") as caught:
        transport.post(BODY, HEADERS)
    assert caught.value.sent is False


def test_a_slow_answer_is_a_timeout_that_may_have_been_applied(api: ScriptedApi) -> None:
    release = threading.Event()
    api.script(Reply(hold=release))
    transport = HttpTransport(api.url, timeout=0.2, environ=NO_ENV)
    try:
        with pytest.raises(TransportError, match=r"no answer within 0\.2s") as caught:
            transport.post(BODY, HEADERS)
    finally:
        release.set()
    assert caught.value.sent is True and caught.value.timed_out is True
    assert transport.post(BODY, HEADERS).status == 200  # the broken connection was discarded


def test_a_connection_dropped_without_an_answer_may_have_been_applied(api: ScriptedApi) -> None:
    api.script(Reply(drop=True))
    transport = HttpTransport(api.url, timeout=5, environ=NO_ENV)
    with pytest.raises(TransportError) as caught:
        transport.post(BODY, HEADERS)
    assert caught.value.sent is True and caught.value.timed_out is False


def test_the_api_address_must_be_http() -> None:
    with pytest.raises(ConfigError, match="must start with http:// or https://"):
        HttpTransport("ftp://example.com", timeout=1, environ=NO_ENV)


# -- TLS --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_api(ca: trustme.CA) -> Iterator[ScriptedApi]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("api.example.test", "localhost").configure_cert(context)
    with scripted_api(tls=context, host="localhost") as server:
        yield server


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def test_https_with_the_ca_bundle_requests_would_use(tls_api: ScriptedApi, ca_file: str) -> None:
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        transport = HttpTransport(tls_api.url, timeout=5, environ={variable: ca_file})
        assert transport.post(BODY, HEADERS).status == 200


def test_an_untrusted_certificate_is_refused_before_sending(tls_api: ScriptedApi) -> None:
    transport = HttpTransport(tls_api.url, timeout=5, environ=NO_ENV)
    with pytest.raises(TransportError, match="certificate was not accepted") as caught:
        transport.post(BODY, HEADERS)
    assert caught.value.sent is False
    assert tls_api.received == []


def test_a_missing_ca_bundle_is_a_config_error_naming_the_variable(tls_api: ScriptedApi) -> None:
    with pytest.raises(ConfigError, match="env REQUESTS_CA_BUNDLE: cannot load the CA bundle"):
        HttpTransport(tls_api.url, timeout=5, environ={"REQUESTS_CA_BUNDLE": "/nonexistent.pem"})


# -- proxies ----------------------------------------------------------------------------------

CREDENTIALS = "Basic " + base64.b64encode(b"agent:p@ss word").decode()
PROXY_USERINFO = "agent:p%40ss%20word@"


def test_https_goes_through_a_connect_tunnel_with_credentials(ca: trustme.CA, ca_file: str) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("api.example.test").configure_cert(context)
    with (
        scripted_api(tls=context, host="api.example.test") as api,
        forward_proxy(CREDENTIALS) as proxy,
    ):
        environ = {
            "HTTPS_PROXY": f"http://{PROXY_USERINFO}{proxy.address}",
            "REQUESTS_CA_BUNDLE": ca_file,
        }
        transport = HttpTransport(api.url, timeout=5, environ=environ)
        assert transport.proxied
        for _ in range(2):
            assert transport.post(BODY, HEADERS).status == 200
    # One tunnel, kept alive for both requests.
    assert [s.request_line.rsplit(" ", 1)[0] for s in proxy.seen] == [
        f"CONNECT api.example.test:{api.port}"
    ]
    assert proxy.seen[0].authorization == CREDENTIALS
    # Inside the tunnel the API sees no proxy credentials.
    assert all("Proxy-Authorization" not in r.headers for r in api.received)


def test_http_goes_to_the_proxy_in_absolute_form(api: ScriptedApi) -> None:
    name_only_the_proxy_knows = f"http://api.example.test:{api.port}/graphql"
    with forward_proxy(CREDENTIALS) as proxy:
        environ = {"http_proxy": f"{PROXY_USERINFO}{proxy.address}", "HTTP_PROXY": "ignored:1"}
        transport = HttpTransport(name_only_the_proxy_knows, timeout=5, environ=environ)
        assert transport.post(BODY, HEADERS).status == 200
    assert proxy.seen[0].request_line == f"POST {name_only_the_proxy_knows} HTTP/1.1"
    assert proxy.seen[0].authorization == CREDENTIALS
    assert api.received[0].body == {"query": "{ hello }"}


def test_a_proxy_refusing_the_credentials_fails_before_sending(
    ca: trustme.CA, ca_file: str
) -> None:
    with forward_proxy(CREDENTIALS) as proxy:
        environ = {
            "HTTPS_PROXY": f"http://agent:wrong@{proxy.address}",
            "REQUESTS_CA_BUNDLE": ca_file,
        }
        transport = HttpTransport("https://api.example.test:1", timeout=5, environ=environ)
        with pytest.raises(TransportError, match="407") as caught:
            transport.post(BODY, HEADERS)
    assert caught.value.sent is False
    assert "wrong" not in str(caught.value)


API = urlsplit("https://api.example.com:8443/graphql")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"HTTPS_PROXY": "proxy:3128"}, ("proxy", 3128)),
        ({"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"}, ("lower", 1)),
        ({"HTTP_PROXY": "http://only-http:1"}, None),
        ({"ALL_PROXY": "http://every:8"}, ("every", 8)),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": ".example.com"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.com, api.example.com:8443"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.example.com:443"}, ("p", 1)),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "ample.com"}, ("p", 1)),
        ({"HTTPS_PROXY": "http://p"}, ("p", 80)),
    ],
)
def test_proxy_settings_follow_the_usual_conventions(
    environ: dict[str, str], expected: tuple[str, int] | None
) -> None:
    proxy = proxy_for(API, environ)
    assert (None if proxy is None else (proxy.host, proxy.port)) == expected


def test_loopback_is_never_proxied() -> None:
    for url in ("http://localhost:4200", "http://127.0.0.1:4200"):
        assert proxy_for(urlsplit(url), {"HTTP_PROXY": "http://p:1"}) is None


def test_a_bad_proxy_address_names_the_variable_and_hides_the_password() -> None:
    with pytest.raises(ConfigError, match="env https_proxy: proxies reached over https://") as bad:
        proxy_for(API, {"https_proxy": "https://user:s3cret@proxy:3128"})
    assert "s3cret" not in str(bad.value)
    with pytest.raises(ConfigError, match="env HTTPS_PROXY: the address has an invalid port"):
        proxy_for(API, {"HTTPS_PROXY": "http://user:s3cret@proxy:http"})


# -- review findings: compatibility with what requests did ----------------------------------


def test_a_ca_bundle_directory_is_used_as_such(
    tls_api: ScriptedApi, ca_file: str, tmp_path: Path
) -> None:
    hashed = subprocess.run(
        ["openssl", "x509", "-subject_hash", "-noout", "-in", ca_file],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    directory = tmp_path / "certs"
    directory.mkdir()
    shutil.copy(ca_file, directory / f"{hashed}.0")
    transport = HttpTransport(
        tls_api.url, timeout=5, environ={"REQUESTS_CA_BUNDLE": str(directory)}
    )
    assert transport.post(BODY, HEADERS).status == 200


@pytest.mark.parametrize(
    ("api_host", "no_proxy", "bypassed"),
    [
        ("10.96.0.15", "10.0.0.0/8", True),
        ("10.96.0.15", "192.168.0.0/16,10.96.0.15", True),
        ("10.96.0.15", "192.168.0.0/16", False),
        ("[fd00::5]", "fd00::/8", True),
        ("[fd00::5]", "fe80::/10", False),
        ("prefect.svc", "10.0.0.0/8", False),
    ],
)
def test_no_proxy_takes_address_ranges(api_host: str, no_proxy: str, bypassed: bool) -> None:
    url = urlsplit(f"http://{api_host}:4200")
    proxy = proxy_for(url, {"HTTP_PROXY": "http://p:1", "NO_PROXY": no_proxy})
    assert (proxy is None) is bypassed


def test_an_empty_lower_case_variable_turns_the_proxy_off() -> None:
    assert proxy_for(API, {"https_proxy": "", "HTTPS_PROXY": "http://p:1"}) is None


def test_credentials_in_the_api_address_become_basic_auth_and_are_never_shown(
    api: ScriptedApi,
) -> None:
    url = api.url.replace("http://", "http://agent:s%40fe@") + "/graphql"
    transport = HttpTransport(url, timeout=5, environ=NO_ENV)
    assert "s%40fe" not in transport.display_url and "agent" not in transport.display_url
    transport.post(BODY, HEADERS)
    sent = api.received[0].headers
    assert sent["Authorization"] == "Basic " + base64.b64encode(b"agent:s@fe").decode()
    assert "agent" not in sent["Host"]
    # An API key's bearer header, when there is one, is not replaced.
    transport.post(BODY, {**HEADERS, "Authorization": "Bearer k"})
    assert api.received[1].headers["Authorization"] == "Bearer k"


def test_credentials_in_the_api_address_stay_out_of_a_proxy_request_line(api: ScriptedApi) -> None:
    with forward_proxy() as proxy:
        url = f"http://agent:s3cret@api.example.test:{api.port}/"
        environ = {"HTTP_PROXY": f"http://{proxy.address}"}
        assert HttpTransport(url, timeout=5, environ=environ).post(BODY, HEADERS).status == 200
    assert proxy.seen[0].request_line == f"POST http://api.example.test:{api.port}/ HTTP/1.1"


def test_a_request_cut_off_while_sending_was_never_applied() -> None:
    """A server that resets the connection before reading the body cannot have acted on it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def reset_after_a_few_bytes() -> None:
            conn, _ = listener.accept()
            conn.recv(16)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # RST

        thread = threading.Thread(target=reset_after_a_few_bytes, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        transport = HttpTransport(url, timeout=5, environ=NO_ENV)
        with pytest.raises(TransportError, match="sending failed") as caught:
            transport.post(b"x" * 32_000_000, HEADERS)
        thread.join(5)
    assert caught.value.sent is False


def test_a_closed_transport_keeps_no_connection_of_a_request_still_in_flight(
    api: ScriptedApi,
) -> None:
    release = threading.Event()
    api.script(Reply(hold=release))
    transport = HttpTransport(api.url, timeout=5, environ=NO_ENV)
    answered: list[int] = []
    thread = threading.Thread(target=lambda: answered.append(transport.post(BODY, HEADERS).status))
    thread.start()
    eventually(lambda: api.received, "the request to arrive")
    transport.close()
    release.set()
    thread.join(10)
    assert answered == [200]
    eventually(lambda: api.closed == 1, "the connection of the closed transport to be closed")
