"""``prefect server ...`` and ``prefect run ...`` commands."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from prefect_agent.cli.main import prefect
from prefect_agent.server.store import Store
from prefect_agent.server.testing import RunningServer


@pytest.fixture(autouse=True)
def _api_key(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """``prefect run ...`` sends the key of the test's API, as a user would set it."""
    if "api" in request.fixturenames:
        monkeypatch.setenv("PREFECT__CLOUD__API_KEY", request.getfixturevalue("api").api_key)


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(prefect, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_run_create_list_and_show(api: RunningServer) -> None:
    code, out, _ = cli(
        "run",
        "create",
        "--api",
        api.url,
        "-l",
        "dev",
        "-l",
        "gpu",
        "--run-config",
        '{"type": "LocalRun", "env": {"K": "V"}}',
        "-p",
        "n=3",
        "-p",
        "who=world",
        "--count",
        "2",
        "--name",
        "batch",
    )
    assert code == 0
    ids = out.split()
    assert len(ids) == 2
    run = api.run(ids[0])
    assert run["labels"] == ["dev", "gpu"]
    assert run["run_config"] == {"type": "LocalRun", "env": {"K": "V"}}
    assert run["name"] == "batch-1"
    api.set_state(ids[1], "Running")
    api.store.write_logs([{"flow_run_id": ids[1], "message": "hello from the flow"}])
    code, out, _ = cli("run", "list", "--api", api.url)
    assert code == 0
    assert re.search(ids[1] + r"\s+Running", out)
    assert re.search(ids[0] + r"\s+Scheduled", out)
    code, out, _ = cli("run", "list", "--api", api.url, "--state", "Running", "--json")
    assert [r["id"] for r in json.loads(out)] == [ids[1]]
    code, out, _ = cli("run", "show", "--api", api.url, ids[1])
    assert "State: Running" in out and "hello from the flow" in out


def test_run_cancel(api: RunningServer) -> None:
    run_id = api.create_run(labels=[])
    code, out, _ = cli("run", "cancel", "--api", api.url, run_id)
    assert code == 0
    assert out.split() == [run_id, "Cancelled"]
    assert api.state_of(run_id) == "Cancelled"


def test_run_cancel_tries_every_id_and_reports_each_failure(api: RunningServer) -> None:
    first, last = api.create_run(labels=[]), api.create_run(labels=[])
    unknown = "00000000-0000-0000-0000-000000000000"
    result = CliRunner().invoke(prefect, ["run", "cancel", "--api", api.url, first, unknown, last])
    assert result.exit_code == 1
    assert api.state_of(first) == "Cancelled" and api.state_of(last) == "Cancelled"
    assert f"{unknown} not cancelled" in result.stderr
    assert "1 of 3 runs could not be cancelled" in result.stderr


def _isolated_env(tmp_path: Path, **variables: str) -> dict[str, str | None]:
    """No PREFECT__ variable of the developer's shell, an empty home: only ``variables``."""
    cleared: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PREFECT__")}
    return {**cleared, "HOME": str(tmp_path), **variables}


def test_run_commands_find_the_api_as_the_agents_do(api: RunningServer, tmp_path: Path) -> None:
    run_id = api.create_run(labels=[])
    host, _, port = api.url.rstrip("/").rpartition(":")
    assert api.api_key
    by_server_port = _isolated_env(
        tmp_path,
        PREFECT__SERVER__HOST=host,
        PREFECT__SERVER__PORT=port,
        PREFECT__CLOUD__API_KEY=api.api_key,
    )
    result = CliRunner(env=by_server_port).invoke(prefect, ["run", "list"])
    assert result.exit_code == 0, result.output
    assert run_id in result.stdout
    config = tmp_path / "config.toml"
    config.write_text(f'[cloud]\napi = "{api.url}"\napi_key = "{api.api_key}"\n')
    by_file = _isolated_env(tmp_path, PREFECT__USER_CONFIG_PATH=str(config))
    result = CliRunner(env=by_file).invoke(prefect, ["run", "show", run_id])
    assert result.exit_code == 0, result.output
    assert "State: Scheduled" in result.stdout


def test_a_bad_setting_stops_a_run_command_as_it_stops_an_agent(tmp_path: Path) -> None:
    env = _isolated_env(tmp_path, PREFECT__CLOUD__TENANT_ID="acme")
    result = CliRunner(env=env).invoke(prefect, ["run", "list"])
    assert result.exit_code == 2
    assert "env PREFECT__CLOUD__TENANT_ID: cloud.tenant_id:" in result.stderr


def test_run_create_with_a_flow_script_and_a_later_start(
    api: RunningServer, tmp_path: Path
) -> None:
    script = tmp_path / "flow.py"
    script.write_text("print('hi')\n")
    code, out, _ = cli(
        "run",
        "create",
        "--api",
        api.url,
        "--flow-name",
        "hello",
        "--flow-path",
        str(script),
        "--start-in",
        "3600",
    )
    assert code == 0
    data = api.graphql(
        'query { flow_run_by_pk(id: "'
        + out.strip()
        + '") { state_start_time flow { name storage } } }'
    )["flow_run_by_pk"]
    assert data["flow"]["name"] == "hello"
    assert data["flow"]["storage"]["path"] == str(script)
    starts = datetime.fromisoformat(data["state_start_time"])
    assert starts > datetime.now(timezone.utc) + timedelta(seconds=3500)


def test_unrunnable_run_configs_are_created_with_a_warning(api: RunningServer) -> None:
    code, out, err = cli("run", "create", "--api", api.url, "--run-config", '{"type": "NomadRun"}')
    assert code == 0
    assert "NomadRun" in err
    assert api.state_of(out.strip()) == "Scheduled"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--run-config", "{not json"], "--run-config"),
        (["--run-config", "[1]"], "must be a JSON object"),
        (["-p", "novalue"], "KEY=VALUE"),
        (["--start-at", "tomorrow"], "ISO 8601"),
        (["--run-config", "@/does/not/exist"], "cannot read"),
    ],
)
def test_bad_run_create_input_names_the_option(
    api: RunningServer, args: list[str], words: str
) -> None:
    result = CliRunner().invoke(prefect, ["run", "create", "--api", api.url, *args])
    assert result.exit_code == 2
    assert words in result.output


def test_an_unreachable_api_is_named() -> None:
    result = CliRunner().invoke(prefect, ["run", "list", "--api", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "http://127.0.0.1:9" in result.output


def test_run_show_of_an_unknown_run(api: RunningServer) -> None:
    result = CliRunner().invoke(
        prefect, ["run", "show", "--api", api.url, "00000000-0000-0000-0000-000000000000"]
    )
    assert result.exit_code == 1
    assert "No flow run with id" in result.output


def test_create_tenant(tmp_path: Path) -> None:
    db = str(tmp_path / "api.db")
    code, out, _ = cli("server", "create-tenant", "--name", "team", "--db", db)
    assert code == 0
    assert Store(db).default_tenant_id() == out.strip()
    result = CliRunner().invoke(prefect, ["server", "create-tenant", "--name", "team", "--db", db])
    assert result.exit_code == 1
    assert "already exists" in result.output


@pytest.mark.parametrize("command", ["start", "create-tenant"])
def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path, command: str) -> None:
    db = tmp_path / "not.db"
    db.write_bytes(b"this is not a SQLite database, not even close" * 100)
    extra = ["--name", "t"] if command == "create-tenant" else ["--port", "0"]
    result = CliRunner().invoke(prefect, ["server", command, "--db", str(db), *extra])
    assert result.exit_code == 1
    assert "cannot open database" in result.output


@pytest.mark.e2e
def test_server_start_serves_until_terminated(tmp_path: Path) -> None:
    db = tmp_path / "api.db"
    key = "cli-test-key-0123456789"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PREFECT__SERVER__API_KEY": key,
        "PREFECT__CLOUD__API_KEY": key,
    }
    command = [
        sys.executable,
        "-m",
        "prefect_agent",
        "server",
        "start",
        "--port",
        "0",
        "--db",
        str(db),
    ]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        match = re.search(r"listening on (http://\S+)", first)
        assert match, first
        url = match.group(1)
        created = subprocess.run(
            [sys.executable, "-m", "prefect_agent", "run", "create", "--api", url, "-l", "dev"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert created.returncode == 0, created.stderr
        listed = subprocess.run(
            [sys.executable, "-m", "prefect_agent", "run", "list", "--api", url],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert created.stdout.strip() in listed.stdout and "Scheduled" in listed.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    assert db.exists()
