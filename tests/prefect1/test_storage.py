"""Flows in every storage class the agents must read, registered by Prefect 1.4.1: each run's
row goes through the GraphQL adapter to every agent type, which launches it as Prefect
1.4.1's agent of that type does, or refuses it in one line where that agent refuses too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prefect_agent.domain.errors import LaunchError
from tests.prefect1 import cases
from tests.prefect1.compare import check, ours_for
from tests.prefect1.venv import Prefect1, ask

KINDS = ("local", "docker", "kubernetes")


def storages(flows_dir: Path) -> dict[str, dict[str, Any]]:
    webhook = {"url": "https://flows.example/f", "headers": {"X-Token": "${TOKEN}"}}
    kwargs: dict[str, tuple[str, dict[str, Any]]] = {
        "local-script": ("Local", {"path": "/opt/flows/f.py", "stored_as_script": True}),
        "local-pickle": ("Local", {"directory": str(flows_dir)}),
        "module": ("Module", {"module": "flows.fixture"}),
        "docker": ("Docker", {"registry_url": "reg.io/org", "image_name": "img", "image_tag": "t"}),
        "s3": ("S3", {"bucket": "b", "key": "flows/f.py", "stored_as_script": True}),
        "gcs": ("GCS", {"bucket": "b", "key": "flows/f", "project": "p"}),
        "github": ("GitHub", {"repo": "o/r", "path": "f.py", "ref": "main"}),
        "gitlab": ("GitLab", {"repo": "o/r", "path": "f.py", "host": "https://gl.example"}),
        "bitbucket": ("Bitbucket", {"project": "P", "repo": "r", "path": "f.py"}),
        "git": ("Git", {"repo": "o/r", "flow_path": "f.py", "branch_name": "main"}),
        "azure": ("Azure", {"container": "c", "blob_name": "f"}),
        "webhook": (
            "Webhook",
            {
                "build_request_kwargs": webhook,
                "build_request_http_method": "PUT",
                "get_flow_request_kwargs": webhook,
                "get_flow_request_http_method": "GET",
            },
        ),
    }
    return {
        name: {"cls": cls, "kwargs": kw, "add_flow": name != "local-script"}
        for name, (cls, kw) in kwargs.items()
    }


@pytest.fixture(scope="module")
def launches(
    prefect1: Prefect1, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    requests = {}
    for name, storage in storages(tmp_path_factory.mktemp("flows")).items():
        for kind in KINDS:
            request = cases.launch(kind, None, len(requests))
            request["flow_run"]["storage"] = storage
            requests[f"{name}-{kind}"] = request
    answers = ask(prefect1, list(requests.values()))
    return {
        key: (request, answer)
        for (key, request), answer in zip(requests.items(), answers, strict=True)
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("storage", list(storages(Path("/unused"))))
def test_every_storage_class_launches_as_prefect_1_4_1_launches_it(
    launches: dict[str, tuple[dict[str, Any], dict[str, Any]]], storage: str, kind: str
) -> None:
    request, answer = launches[f"{storage}-{kind}"]
    assert "value" in answer, answer
    if storage == "docker" and kind == "local":
        # Both refuse: a local agent cannot run a flow stored in an image.
        assert "Unsupported Storage type: Docker" in answer["value"]["error"]
        with pytest.raises(LaunchError) as refused:
            ours_for(kind, request, answer["value"]["row"])
        assert "Docker storage" in refused.value.reason and "\n" not in refused.value.reason
        return
    check(request, answer["value"])
    if storage == "docker" and kind != "local":
        assert "reg.io/org/img:t" in str(answer["value"]["launch"])
