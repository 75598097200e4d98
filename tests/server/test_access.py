"""Who may use the embedded API: the key, and the browser attacks around it (issue 15).

Each test replays an attack the review reproduced, or checks that a legitimate client of
record (our agent, Prefect 1.4.1) still gets through.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from prefect_agent.server.access import AccessPolicy, read_key_file
from prefect_agent.server.testing import RunningServer, running_server
from tests.prefect1.venv import Prefect1
from tests.server.conftest import codes_of

SCHEDULE_RUN = "mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }"


def attack_run(api: RunningServer) -> str:
    """A run schedule with an attacker's env, as the review's cross-site POST sent it."""
    flow_id = api.create_flow("victim")
    return json.dumps(
        {
            "query": SCHEDULE_RUN,
            "variables": {
                "input": {
                    "flow_id": flow_id,
                    "run_config": {
                        "type": "LocalRun",
                        "env": {"PYTHONWARNINGS": "ignore::antigravity.x", "BROWSER": "sh -c id"},
                    },
                }
            },
        }
    )


def runs(api: RunningServer) -> int:
    return len(api.graphql("{ flow_run { id } }")["flow_run"])


def test_a_cross_site_text_plain_post_schedules_nothing(api: RunningServer) -> None:
    # What a form on any web page sends: text/plain, its Origin, no preflight, no key.
    body = attack_run(api)
    for headers in (
        {"Content-Type": "text/plain", "Origin": "https://evil.example"},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"},
    ):
        response = requests.post(api.url, data=body, headers=headers, timeout=10)
        assert response.status_code in (401, 403), response.text
    # Even holding the key, a browser page is refused by its Origin, a form by its type.
    keyed = {**api.auth_headers, "Content-Type": "application/json"}
    response = requests.post(
        api.url, data=body, headers={**keyed, "Origin": "https://evil.example"}, timeout=10
    )
    assert response.status_code == 403
    assert codes_of(response) == {"FORBIDDEN_ORIGIN"}
    assert "allowed_origins" in response.json()["errors"][0]["message"]
    response = requests.post(
        api.url, data=body, headers={**keyed, "Content-Type": "text/plain"}, timeout=10
    )
    assert response.status_code == 415
    assert codes_of(response) == {"UNSUPPORTED_MEDIA_TYPE"}
    assert runs(api) == 0


def test_requests_without_the_key_or_with_another_are_refused(
    api: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert api.api_key
    hello = {"query": "{ hello }"}
    wrong = "x" + api.api_key[1:]
    with caplog.at_level(logging.DEBUG, logger="prefect_agent.server"):
        for headers in ({}, {"Authorization": f"Bearer {wrong}"}, {"Authorization": api.api_key}):
            response = requests.post(api.url, json=hello, headers=headers, timeout=10)
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert codes_of(response) == {"UNAUTHENTICATED"}
            assert api.api_key not in response.text and wrong not in response.text
        assert requests.get(api.url + "/api/stats", timeout=10).status_code == 401
    assert api.api_key not in caplog.text and wrong not in caplog.text
    assert "Unauthenticated" in caplog.text  # the operator sees refusals...
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="prefect_agent.server"):
        for _ in range(50):
            requests.post(api.url, json=hello, timeout=10)
    assert len([r for r in caplog.records if "Refused" in r.message]) <= 1  # ...not a flood
    # Health probes need no key; the right key opens everything else.
    assert requests.get(api.url + "/health", timeout=10).status_code == 200
    ok = requests.post(api.url, json=hello, headers=api.auth_headers, timeout=10)
    assert ok.json()["data"]["hello"]


def test_a_dns_rebinding_host_is_refused_and_local_names_are_not(api: RunningServer) -> None:
    port = api.url.rsplit(":", 1)[1]
    keyed = {**api.auth_headers, "Content-Type": "application/json"}
    body = json.dumps({"query": "{ hello }"})
    response = requests.post(
        api.url, data=body, headers={**keyed, "Host": f"rebind.evil.example:{port}"}, timeout=10
    )
    assert response.status_code == 421
    assert codes_of(response) == {"FORBIDDEN_HOST"}
    assert "allowed_hosts" in response.json()["errors"][0]["message"]
    for host in ("localhost", "127.0.0.1", "[::1]", "host.docker.internal", "10.0.0.5"):
        ok = requests.post(api.url, data=body, headers={**keyed, "Host": f"{host}:{port}"})
        assert ok.status_code == 200, (host, ok.text)


def test_listed_hosts_and_origins_are_accepted() -> None:
    with running_server(
        allowed_hosts=["prefect-api.default.svc"], allowed_origins=["http://ui.local:8080"]
    ) as api:
        port = api.url.rsplit(":", 1)[1]
        headers = {
            **api.auth_headers,
            "Host": f"prefect-api.default.svc:{port}",
            "Origin": "http://ui.local:8080",
        }
        response = requests.post(api.url, json={"query": "{ hello }"}, headers=headers)
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == "http://ui.local:8080"
        preflight = requests.options(api.url, headers={"Origin": "http://ui.local:8080"})
        assert preflight.status_code == 204
        assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
        refused = requests.options(api.url, headers={"Origin": "http://other.local"})
        assert refused.status_code == 403


def test_no_auth_serves_without_a_key() -> None:
    with running_server(auth=False) as api:
        assert api.api_key is None
        response = requests.post(api.url, json={"query": "{ hello }"}, timeout=10)
        assert response.json()["data"]["hello"]
        # The browser checks stay: they are what makes an open port safe from web pages.
        cross_site = requests.post(
            api.url,
            data=json.dumps({"query": "{ hello }"}),
            headers={"Content-Type": "text/plain"},
            timeout=10,
        )
        assert cross_site.status_code == 415


def test_a_body_without_a_content_type_is_refused(api: RunningServer) -> None:
    # fetch() with a Blob body sends no Content-Type, and no preflight either.
    request = requests.Request("POST", api.url, data=b'{"query": "{ hello }"}')
    prepared = request.prepare()
    prepared.headers.pop("Content-Type", None)
    prepared.headers.update(api.auth_headers)
    with requests.Session() as session:
        response = session.send(prepared, timeout=10)
    assert response.status_code == 415
    assert "got none" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "args",
    [
        ["--no-auth", "--api-key", "k"],
        ["--api-key", "k", "--api-key-file", "f"],
        ["--api-key", "two words"],
    ],
)
def test_contradictory_key_options_are_usage_errors(args: list[str]) -> None:
    from click.testing import CliRunner

    from prefect_agent.cli.main import prefect

    result = CliRunner().invoke(prefect, ["server", "start", "--port", "0", *args])
    assert result.exit_code == 2, result.output
    assert "two words" not in result.output


def test_a_key_with_spaces_is_refused() -> None:
    with pytest.raises(ValueError, match="without spaces"):
        AccessPolicy("two words")


def test_prefect_1_4_1_sends_the_key_as_a_bearer_token(
    api: RunningServer, prefect1: Prefect1
) -> None:
    seen: list[dict[str, str]] = []
    handle = api.server.api.handle

    def recording(body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
        seen.append(headers)
        return handle(body, headers)

    api.server.api.handle = recording  # type: ignore[method-assign]
    code = (
        "import json, prefect; from prefect import Client\n"
        "client = Client()\n"
        "hello = client.graphql('{ hello }').data.hello\n"
        "print(json.dumps({'hello': hello, 'tenant': client.tenant_id}))\n"
    )
    answer = prefect1.json_of(code, env=api.agent_env)
    assert answer == {"hello": api.graphql("{ hello }")["hello"], "tenant": api.tenant_id}
    assert seen and all(h.get("Authorization") == f"Bearer {api.api_key}" for h in seen)
    assert {h.get("Content-Type") for h in seen} == {"application/json"}

    # Without the key Prefect 1.4.1's client fails on the 401 instead of working unnoticed.
    keyless = {k: v for k, v in api.agent_env.items() if k != "PREFECT__CLOUD__API_KEY"}
    done = prefect1.run(["-c", code], env=keyless)
    assert done.returncode != 0
    assert "401" in done.stderr


def test_prefect_1_4_1_local_agent_polls_with_the_key(
    api: RunningServer, prefect1: Prefect1, tmp_path: Path
) -> None:
    polls = api.stats.snapshot()["fields"].get("get_runs_in_queue", 0)
    code = (
        "from prefect.agent.local import LocalAgent\n"
        "LocalAgent(labels=['p1'], max_polls=1, no_cloud_logs=True).start()\n"
    )
    done = prefect1.run(["-c", code], env={**api.agent_env, "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert api.stats.snapshot()["fields"].get("get_runs_in_queue", 0) > polls
    assert api.api_key not in done.stdout + done.stderr


# -- prefect server start: where the key comes from -------------------------------------------


def start_cli_server(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str, list[str]]:
    """``prefect server start`` on a free port; its URL and first stderr lines."""
    command = [sys.executable, "-m", "prefect_agent", "server", "start", "--port", "0", *args]
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
    server = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        env={**base, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert server.stderr is not None
    lines = [server.stderr.readline() for _ in range(4)]
    match = re.search(r"listening on (http://\S+)", lines[0])
    assert match, lines
    return server, match.group(1), lines


def stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    server.wait(30)
    if server.stderr is not None:
        server.stderr.close()


def hello_with(url: str, key: str | None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.post(url, json={"query": "{ hello }"}, headers=headers, timeout=10).status_code


@pytest.mark.e2e
def test_server_start_key_from_a_file_it_creates_then_reads(tmp_path: Path) -> None:
    key_file = tmp_path / "api.key"
    server, url, lines = start_cli_server(tmp_path, "--api-key-file", str(key_file))
    try:
        key = read_key_file(key_file)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key not in "".join(lines)
        assert (hello_with(url, None), hello_with(url, key)) == (401, 200)
    finally:
        stop(server)
    server, url, _ = start_cli_server(
        tmp_path, env={"PREFECT__SERVER__API_KEY_FILE": str(key_file)}
    )
    try:
        assert hello_with(url, key) == 200  # the same key, read back
    finally:
        stop(server)


@pytest.mark.e2e
def test_server_start_generated_key_is_not_written_to_a_redirected_stderr(tmp_path: Path) -> None:
    server, url, lines = start_cli_server(tmp_path)
    try:
        assert "not shown because stderr is not a terminal" in "".join(lines)
        assert hello_with(url, None) == 401
    finally:
        stop(server)


@pytest.mark.e2e
def test_server_start_key_from_the_environment_and_no_auth(tmp_path: Path) -> None:
    server, url, lines = start_cli_server(
        tmp_path, env={"PREFECT__SERVER__API_KEY": "env-given-key-42"}
    )
    try:
        assert "env-given-key-42" not in "".join(lines)
        assert (hello_with(url, "wrong"), hello_with(url, "env-given-key-42")) == (401, 200)
    finally:
        stop(server)
    server, url, lines = start_cli_server(tmp_path, "--no-auth")
    try:
        assert "no API key required" in "".join(lines)
        assert hello_with(url, None) == 200
    finally:
        stop(server)


def test_listening_beyond_loopback_warns(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="prefect_agent.server"),
        running_server(host="0.0.0.0") as api,
    ):
        assert hello_with(api.url, api.api_key) == 200
        # Clients elsewhere may name this machine by its host name.
        host = socket.gethostname()
        port = api.url.rsplit(":", 1)[1]
        headers = {**api.auth_headers, "Host": f"{host}:{port}"}
        response = requests.post(api.url, json={"query": "{ hello }"}, headers=headers)
        assert response.status_code == 200
    assert "beyond this machine" in caplog.text
    assert api.api_key not in caplog.text
