"""The ``prefect`` drop-in next to Prefect core, with a stand-in Prefect core distribution.

The real Prefect 1.4.1, installed both ways round with a built wheel, is checked in
tests/distribution/test_coexistence.py; this covers the hand-off rules in a second each.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from prefect_agent import __version__

DROP_IN = "import sys; from prefect_agent.cli.main import main; sys.argv[0] = 'prefect'; main()"
FULL = "import sys; from prefect_agent.cli.main import prefect_agent_main as m; m()"

CORE_CLI = """
import sys
def cli():
    print("core got", sys.argv)
    sys.exit(3 if "fail" in sys.argv else 0)
"""


def fake_core(root: Path, cli_source: str = CORE_CLI) -> Path:
    """A ``prefect`` distribution whose console script is ``prefect.cli:cli``."""
    (root / "prefect").mkdir(parents=True)
    (root / "prefect" / "__init__.py").write_text("")
    (root / "prefect" / "cli.py").write_text(cli_source)
    info = root / "prefect-9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: prefect\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text("[console_scripts]\nprefect = prefect.cli:cli\n")
    return root


def run(code: str, *args: str, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip


@pytest.fixture
def core(tmp_path: Path) -> Path:
    return fake_core(tmp_path / "core")


def test_without_prefect_core_every_command_is_ours() -> None:
    done = run(DROP_IN, "server", "--help")
    assert done.returncode == 0, done.stderr
    assert "embedded Prefect-compatible API" in done.stdout


def test_with_prefect_core_other_commands_go_to_it_unchanged(core: Path) -> None:
    done = run(DROP_IN, "register", "--project", "p", "fail", path=core)
    assert done.returncode == 3
    assert done.stdout.strip() == "core got ['prefect', 'register', '--project', 'p', 'fail']"
    # `server` and `run` are Prefect core's then, not the embedded API's.
    server = run(DROP_IN, "server", "start", path=core)
    assert server.stdout.strip() == "core got ['prefect', 'server', 'start']"


def test_with_prefect_core_agent_stays_ours_and_says_so(core: Path) -> None:
    done = run(DROP_IN, "agent", "--help", path=core)
    assert done.returncode == 0, done.stderr
    assert "core got" not in done.stdout
    assert f"prefect-agent {__version__}'s agents, not Prefect core's" in " ".join(
        done.stdout.split()
    )


def test_top_level_help_is_prefect_cores_with_a_note_on_agent(core: Path) -> None:
    done = run(DROP_IN, "--help", path=core)
    assert done.returncode == 0
    first, *rest = done.stdout.splitlines()
    assert first == "core got ['prefect', '--help']"
    assert "`prefect agent ...` runs prefect-agent's agents" in "\n".join(rest)


def test_prefect_agent_is_always_all_of_ours(core: Path) -> None:
    done = run(FULL, "server", "--help", path=core)
    assert done.returncode == 0, done.stderr
    assert "embedded Prefect-compatible API" in done.stdout
    version = run(FULL, "--version", path=core)
    assert version.stdout.strip() == f"prefect-agent, version {__version__}"


def test_a_broken_prefect_core_fails_with_one_clear_line(tmp_path: Path) -> None:
    broken = fake_core(tmp_path / "core", "import no_such_module_here\n")
    done = run(DROP_IN, "register", path=broken)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "Prefect core is installed but its command line (prefect.cli:cli) failed" in line
    assert "no_such_module_here" in line and "`prefect-agent`" in line
    # Our own part still works.
    assert run(DROP_IN, "agent", "--help", path=broken).returncode == 0


def test_python_dash_m_runs_the_full_command_line(core: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(core)}
    done = subprocess.run(
        [sys.executable, "-m", "prefect_agent", "run", "--help"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Usage: prefect-agent run" in done.stdout
