"""Bad requests get clear errors; the server keeps serving and its database stays sound."""

from __future__ import annotations

import socket
import sqlite3
import threading
from pathlib import Path

import pytest
import requests

from prefect_agent.server.http_server import MAX_BODY_BYTES
from prefect_agent.server.testing import RunningServer, running_server
from tests.server.conftest import codes_of, errors_of, post


def still_serves(api: RunningServer) -> None:
    assert api.graphql("query { hello }")["hello"]


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (b"{not json", "BAD_REQUEST", "not valid JSON"),
        (b"\xff\xfe", "BAD_REQUEST", "not valid JSON"),
        (b"[1, 2]", "BAD_REQUEST", "JSON object"),
        (b'{"variables": {}}', "BAD_REQUEST", "'query' string"),
        (b'{"query": "{ hello }", "variables": "{oops"}', "BAD_REQUEST", "not valid JSON"),
        (b'{"query": "{ hello }", "variables": [1]}', "BAD_REQUEST", "JSON object"),
        (b'{"query": "query { hello "}', "GRAPHQL_PARSE_FAILED", "Syntax Error"),
        (b'{"query": "query { nothing_here }"}', "GRAPHQL_VALIDATION_FAILED", "nothing_here"),
    ],
)
def test_malformed_requests_are_400s(
    api: RunningServer, body: bytes, code: str, words: str
) -> None:
    response = post(api, None, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert codes_of(response) == {code}
    assert words in errors_of(response)[0]["message"]
    still_serves(api)


def test_variables_of_the_wrong_type_are_refused(api: RunningServer) -> None:
    response = post(
        api,
        {
            "query": "query($id: uuid!) { flow_run_by_pk(id: $id) { id } }",
            "variables": {"id": "not-a-uuid"},
        },
    )
    assert response.status_code == 400
    assert "not a valid UUID" in errors_of(response)[0]["message"]
    response = post(api, {"query": 'query { flow_run_by_pk(id: "1234") { id } }'})
    assert response.status_code == 400
    still_serves(api)


def test_oversized_bodies_are_refused_without_reading_them(api: RunningServer) -> None:
    big = b'{"query": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'
    response = post(api, None, data=big)
    assert response.status_code == 413
    assert codes_of(response) == {"PAYLOAD_TOO_LARGE"}
    still_serves(api)


def test_a_body_that_lies_about_its_length_does_not_hang_the_server(api: RunningServer) -> None:
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        head = f"POST / HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {api.api_key}\r\n"
        raw.sendall(
            f"{head}Content-Type: application/json\r\nContent-Length: abc\r\n\r\n{{}}".encode()
        )
        assert b"400" in raw.recv(1024).split(b"\r\n")[0]
    still_serves(api)


def test_routes_and_methods(api: RunningServer) -> None:
    assert requests.get(api.url + "/health", timeout=5).json()["status"] == "ok"
    key = api.auth_headers
    assert requests.get(api.url + "/nowhere", headers=key, timeout=5).status_code == 404
    assert requests.post(api.url + "/nowhere", json={}, timeout=5).status_code == 404
    assert requests.put(api.url, json={}, timeout=5).status_code == 405
    graphql_path = requests.post(
        api.url + "/graphql", json={"query": "{ hello }"}, headers=key, timeout=5
    )
    assert graphql_path.json()["data"]["hello"]


def test_overly_deep_queries_are_refused(api: RunningServer) -> None:
    deep = "query { flow_run { " + "task_runs { flow_run { " * 5 + "id" + " } }" * 5 + " } }"
    response = post(api, {"query": deep})
    assert response.status_code == 400
    assert "levels deep" in errors_of(response)[0]["message"]


def test_concurrent_writers_leave_a_sound_database(tmp_path: Path) -> None:
    db = tmp_path / "api.db"
    with running_server(db=str(db)) as api:
        flow_id = api.create_flow("w")
        errors: list[BaseException] = []

        def write(n: int) -> None:
            try:
                for _ in range(n):
                    run_id = api.create_run(flow_id=flow_id, labels=["x"])
                    api.set_state(run_id, "Running", version=1)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(15,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert api.store.rows("flow_run", where_sql="state = 'Running'").__len__() == 90
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT COUNT(*) FROM flow_run_state").fetchone() == (180,)


def test_a_file_database_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "api.db")
    with running_server(db=db) as api:
        run_id = api.create_run(labels=["keep"])
        tenant = api.tenant_id
    with running_server(db=db) as api:
        assert api.tenant_id == tenant
        assert api.state_of(run_id) == "Scheduled"
