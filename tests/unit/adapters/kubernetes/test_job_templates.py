from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_agent.adapters.kubernetes.job_templates import (
    TemplateError,
    checked_template,
    default_template,
    load_template,
)

TEMPLATE = """
apiVersion: batch/v1
kind: Job
metadata: {labels: {team: data}}
spec:
  template:
    spec:
      containers: [{name: flow, image: team/img:1}]
"""


@pytest.fixture
def template_file(tmp_path: Path) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(TEMPLATE)
    return path


@pytest.fixture
def served(template_file: Path) -> Iterator[str]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(template_file.parent), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


def test_the_default_template_is_a_job_with_a_flow_container() -> None:
    template = default_template()
    assert template["kind"] == "Job"
    assert template["spec"]["template"]["spec"]["containers"] == [{"name": "flow"}]
    assert template["spec"]["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("form", ["{}", "file://{}", "agent://{}"])
def test_local_forms(template_file: Path, form: str) -> None:
    job = load_template(form.format(template_file))
    assert job["metadata"]["labels"] == {"team": "data"}


def test_http(served: str) -> None:
    assert load_template(f"{served}/job.yaml")["kind"] == "Job"


def test_http_not_found_names_the_url(served: str) -> None:
    with pytest.raises(TemplateError, match=rf"{served}/missing.yaml"):
        load_template(f"{served}/missing.yaml")


def test_unsupported_scheme() -> None:
    with pytest.raises(TemplateError, match="ftp:// scheme is not supported"):
        load_template("ftp://example.com/job.yaml")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"nope\.yaml"):
        load_template(str(tmp_path / "nope.yaml"))


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: [Job")
    with pytest.raises(TemplateError, match="not valid YAML"):
        load_template(str(path))


def test_not_a_job() -> None:
    with pytest.raises(TemplateError, match="must be a batch/v1 Job, not v1/Pod"):
        checked_template({"apiVersion": "v1", "kind": "Pod"}, "inline")


def test_containers_must_be_a_list() -> None:
    with pytest.raises(TemplateError, match="containers must be a list"):
        checked_template({"spec": {"template": {"spec": {"containers": {"name": "x"}}}}}, "t")


def test_a_copy_is_returned() -> None:
    original = {"kind": "Job", "metadata": {"labels": {"a": "b"}}}
    copy = checked_template(original, "t")
    copy["metadata"]["labels"]["a"] = "changed"
    assert original["metadata"]["labels"]["a"] == "b"
