"""The Python and shell examples of README.md and docs/*.md run as written, against a real
embedded API (tests/docs_examples.py says which are exempt, and why).

Each example gets a fresh API and a sandbox: an empty home, its own working directory, the
project's virtualenv first on the PATH, and the API found the way a user's shell would find it
(``PREFECT__SERVER__HOST``/``PORT``), its key exported as a user would
(``PREFECT__CLOUD__API_KEY``). ``PREFECT__AGENT__MAX_POLLS=1`` makes every agent an
example starts poll once and return instead of running forever; ``<run-id>`` placeholders
become a run that exists, labelled ``dev`` and due in an hour (so agents leave it alone)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from prefect_agent.server.testing import running_server
from tests.docs_examples import Block, blocks
from tests.prefect1.venv import venv_path

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
PLACEHOLDERS = ("<run-id>", "<flow-run-id>")


@dataclass
class Sandbox:
    env: dict[str, str]
    cwd: Path
    run_id: str


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with running_server() as api:
        host, _, port = api.url.rstrip("/").rpartition(":")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
        env |= {
            "HOME": str(tmp_path / "home"),
            "PATH": f"{BIN}:{env.get('PATH', '')}",
            "PREFECT__SERVER__HOST": host,
            "PREFECT__SERVER__PORT": port,
            "PREFECT__CLOUD__API_KEY": str(api.api_key),
            "PREFECT__AGENT__MAX_POLLS": "1",
        }
        (tmp_path / "home").mkdir()
        (tmp_path / "work").mkdir()
        # Relative paths the docs use from a checkout: Prefect 1.4.1's venv.
        (tmp_path / "work" / ".venv-prefect1").symlink_to(venv_path())
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        run_id = api.create_run(labels=["dev"], start_time=later)
        yield Sandbox(env=env, cwd=tmp_path / "work", run_id=run_id)


def with_placeholders(text: str, sandbox: Sandbox) -> str:
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder, sandbox.run_id)
    return text


@pytest.mark.parametrize("block", [b for b in blocks("bash") if b.runs_here], ids=lambda b: b.where)
def test_shell_examples_run(block: Block, sandbox: Sandbox) -> None:
    script = "set -euo pipefail\n" + with_placeholders(block.body, sandbox)
    done = subprocess.run(
        ["bash", "-c", script],
        env=sandbox.env, cwd=sandbox.cwd, capture_output=True, text=True, timeout=180,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, (
        f"{block.where} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )


@pytest.mark.parametrize(
    "block", [b for b in blocks("python") if b.runs_here], ids=lambda b: b.where
)
def test_python_examples_run(
    block: Block, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect_agent.testing import FakePlatform

    for name in [k for k in os.environ if k.startswith("PREFECT__")]:
        monkeypatch.delenv(name)
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(sandbox.cwd)
    namespace: dict[str, object] = {"__name__": "docs_example"}
    exec(compile(with_placeholders(block.body, sandbox), block.where, "exec"), namespace)
    # An example that defines a test (docs/testing.md) is run with a platform to test.
    for name, value in namespace.items():
        if name.startswith("test_") and callable(value):
            value(FakePlatform())
