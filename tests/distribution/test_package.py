"""The released artifacts: sdist and wheel build, pass ``twine check``, carry their data files,
and the wheel installed into a clean virtualenv (not editable) works as the README says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from prefect_agent import __version__
from tests.distribution.venvs import ROOT, Dist, Venv, run
from tests.docs_examples import blocks

pytestmark = [pytest.mark.distribution, pytest.mark.slow]


@pytest.fixture(scope="module")
def installed(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    venv = Venv(tmp_path_factory.mktemp("clean") / "venv")
    try:
        venv.pip_install(f"{dist.wheel}[server]")
        yield venv
    finally:
        venv.remove()


def data_files() -> set[str]:
    """Every file of the package that is not Python source, as git knows them."""
    listed = run(["git", "ls-files", "src/prefect_agent"], cwd=ROOT).stdout.split()
    return {name.removeprefix("src/") for name in listed if not name.endswith(".py")}


def test_sdist_and_wheel_pass_twine_check(dist: Dist) -> None:
    done = run([sys.executable, "-m", "twine", "check", "--strict", dist.sdist, dist.wheel])
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_both_carry_the_typing_marker_the_schema_and_the_templates(dist: Dist) -> None:
    expected = data_files()
    assert {
        "prefect_agent/py.typed",
        "prefect_agent/server/schema.graphql",
        "prefect_agent/adapters/kubernetes/job_template.yaml",
    } <= expected
    in_wheel = set(zipfile.ZipFile(dist.wheel).namelist())
    assert expected <= in_wheel, sorted(expected - in_wheel)
    with tarfile.open(dist.sdist) as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {f"src/{name}" for name in expected} <= in_sdist


def test_the_version_comes_from_one_place(dist: Dist, installed: Venv) -> None:
    metadata = (
        zipfile.ZipFile(dist.wheel).read(f"prefect_agent-{__version__}.dist-info/METADATA").decode()
    )
    assert f"\nVersion: {__version__}\n" in metadata
    assert dist.wheel.name == f"prefect_agent-{__version__}-py3-none-any.whl"
    version = installed.run("prefect-agent", "--version").stdout.strip()
    assert version == f"prefect-agent, version {__version__}"


def test_the_install_is_a_real_one_not_editable(installed: Venv) -> None:
    where = installed.run(
        "python", "-c", "import prefect_agent, sys; print(prefect_agent.__file__)"
    ).stdout.strip()
    assert Path(where).is_relative_to(installed.path / "lib"), where
    assert not Path(where).is_relative_to(ROOT)


def test_cli_smoke_from_the_wheel(installed: Venv) -> None:
    listing = installed.run("prefect-agent", "--help").stdout
    for command in ("agent", "server", "run", "demo"):
        assert re.search(rf"^  {command}\b", listing, flags=re.M), listing
    # Without Prefect core, `prefect` is all of ours as well.
    assert "embedded Prefect-compatible API" in installed.run("prefect", "server", "--help").stdout
    assert "--flow-run-command" in installed.run("prefect", "agent", "local", "start", "-h").stdout
    config = installed.run("prefect-agent", "agent", "local", "config", "--label", "x").stdout
    assert "labels" in config
    manifests = list(yaml.safe_load_all(installed.run(
        "prefect-agent", "agent", "kubernetes", "install", "-l", "prod"
    ).stdout))  # fmt: skip
    (container,) = manifests[-1]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"prefect-agent:{__version__}"
    assert container["command"][:2] == ["prefect-agent", "agent"]


def test_the_demo_runs_from_the_wheel(installed: Venv) -> None:
    done = installed.run("prefect-agent", "demo", "--runs", "2", timeout=180)
    assert "All 2 runs finished as expected: 2 Success." in done.stdout


def test_the_readmes_shipped_fakes_example_runs_from_the_wheel(installed: Venv) -> None:
    (example,) = [
        b.body
        for b in blocks("python")
        if b.path.name == "README.md" and "prefect_agent.testing" in b.body
    ]
    done = subprocess.run(
        [installed.python, "-c", example + "\nprint('ok')"],
        capture_output=True, text=True, timeout=120, env=installed.env(), cwd=installed.home,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    # It imported the installed package, not this source tree.
    assert json.loads(installed.run(
        "python", "-c", "import json, prefect_agent.testing as t; print(json.dumps(t.__file__))"
    ).stdout).startswith(str(installed.path))  # fmt: skip
