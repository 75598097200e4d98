"""Finding and running the Prefect 1.4.1 virtualenv.

In CI (``CI`` set) a missing venv is an error: these tests never skip there. Elsewhere they skip
with the command that builds it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_COMMAND = "scripts/prefect1-venv.sh"


def venv_path() -> Path:
    return Path(os.environ.get("PREFECT1_VENV") or ROOT / ".venv-prefect1")


class Prefect1:
    """A Python interpreter with Prefect 1.4.1 importable."""

    def __init__(self, venv: Path) -> None:
        self.venv = venv
        self.python = venv / "bin" / "python"
        self.bin = venv / "bin"

    def run(
        self,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        cwd: str | Path | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python args...`` in the venv with a clean Prefect configuration: a throwaway
        home unless ``env`` names one, and only the PREFECT__ variables ``env`` gives."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
        return subprocess.run(
            [str(self.python), *args],
            env={**base, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            input=input,
            check=False,
        )

    def json_of(self, code: str, *, env: dict[str, str] | None = None) -> Any:
        """Run Python ``code`` that prints one JSON document; return it parsed."""
        done = self.run(["-c", code], env=env)
        if done.returncode != 0:
            raise AssertionError(f"Prefect 1.4.1 snippet failed:\n{done.stderr[-4000:]}")
        return json.loads(done.stdout)

    def run_config(self, expression: str) -> dict[str, Any]:
        """The run config ``expression`` builds (Python; the classes of
        ``prefect.run_configs`` in scope), as Prefect 1.4.1 serializes it for the API."""
        code = (
            "import json\n"
            "from prefect.run_configs import *\n"
            "from prefect.serialization.run_config import RunConfigSchema\n"
            f"print(json.dumps(RunConfigSchema().dump({expression})))"
        )
        serialized: dict[str, Any] = self.json_of(code)
        return serialized


INSIDE = Path(__file__).with_name("inside.py")

DEFAULT_ENV = {"PREFECT__BACKEND": "server", "PREFECT__CLOUD__API": "http://localhost:4200"}
"""The configuration the answers of ``ask`` are computed under unless a test gives its own."""


def ask(prefect1: Prefect1, requests: list[dict[str, Any]], **env: str) -> list[dict[str, Any]]:
    """Answers of Prefect 1.4.1 itself to a batch of requests (see tests/prefect1/inside.py):
    each ``{"value": ...}`` or ``{"error": "<Type>: <message>"}``. One interpreter per batch."""
    done = prefect1.run(
        [str(INSIDE)], env={**DEFAULT_ENV, **env}, input=json.dumps(requests), cwd=ROOT
    )
    if done.returncode != 0:
        raise AssertionError(f"Prefect 1.4.1 fixture generator failed:\n{done.stderr[-4000:]}")
    answers: list[dict[str, Any]] = json.loads(done.stdout)
    return answers


def find() -> Prefect1:
    """The Prefect 1.4.1 venv, or skip (outside CI) / fail (in CI) saying how to build it."""
    venv = venv_path()
    python = venv / "bin" / "python"
    why = ""
    if not python.exists():
        why = f"no Prefect 1.4.1 venv at {venv} (build it with {BUILD_COMMAND})"
    else:
        probe = subprocess.run(
            [str(python), "-c", "import prefect; print(prefect.__version__)"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if probe.stdout.strip() != "1.4.1":
            why = f"{python} has no Prefect 1.4.1: {(probe.stderr or probe.stdout)[-300:]}"
    if why:
        if os.environ.get("CI"):
            pytest.fail(why + "; in CI these tests never skip", pytrace=False)
        pytest.skip(why)
    return Prefect1(venv)
