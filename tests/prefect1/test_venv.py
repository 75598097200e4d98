"""The Prefect 1.4.1 venv is the one the tests rely on."""

from __future__ import annotations

from tests.prefect1.venv import Prefect1


def test_the_venv_holds_prefect_1_4_1_and_serializes_run_configs(prefect1: Prefect1) -> None:
    produced = prefect1.json_of(
        "import json, prefect; from prefect.run_configs import DockerRun;"
        "print(json.dumps([prefect.__version__, DockerRun().serialize()]))"
    )
    version, docker_run = produced
    assert version == "1.4.1"
    # Prefect writes unset fields as null: the reason run configs must come from Prefect itself.
    assert docker_run["type"] == "DockerRun" and docker_run["image"] is None
