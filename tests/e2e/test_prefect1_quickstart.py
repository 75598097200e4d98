"""The main job: ``prefect demo`` (what scripts/quickstart.sh runs) registers the example
Prefect flows with Prefect 1.4.1 and a local agent runs them, printing flow and task run
states; without Prefect 1.4.1 it falls back to the stand-in executor and says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.prefect1.venv import Prefect1

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def demo(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
    env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "prefect_agent", "demo", *args],
        capture_output=True, text=True, timeout=280, env=env, check=False,
    )  # fmt: skip


def test_the_demo_runs_the_example_prefect_flows_to_their_end_states(
    prefect1: Prefect1, tmp_path: Path
) -> None:
    done = demo("--prefect1-python", str(prefect1.python), "--with-failure", home=tmp_path)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "stand-in" not in out + done.stderr
    assert "All 3 runs finished as expected: 1 Failed, 2 Success." in out
    lines = out.splitlines()

    def shown(run: str, *words: str) -> bool:
        return any(run in line and all(word in line for word in words) for line in lines)

    assert shown("mapped-squares-1", "Running -> Success")
    assert shown("mapped-squares-1", "square[4]:", "Success")  # mapped children, by index
    assert shown("retry-once-1", "flaky:", "Retrying")  # the first attempt failed ...
    assert shown("retry-once-1", "flaky:", "Success")  # ... and the retry succeeded
    assert shown("always-fails-1", "Running -> Failed")
    assert "ZeroDivisionError" in out  # the failed run's error, from its logs


def test_without_prefect1_the_demo_says_it_falls_back_to_the_stand_in(tmp_path: Path) -> None:
    done = demo("--runs", "1", "--seconds", "0", home=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "falling back to the stand-in executor" in done.stderr
    assert "All 1 runs finished as expected: 1 Success." in done.stdout
