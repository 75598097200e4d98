"""Job templates under hostile input: dripping and huge answers, aliases, host files, redirects,
secrets in what was read, and the s3/gcs sources with and without their extras."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_agent.adapters.kubernetes.job_templates import (
    TemplateError,
    load_template,
    parse_template,
    source_refusal,
)
from prefect_agent.adapters.kubernetes.template_fetch import FetchLimits
from prefect_agent.domain.kubernetes_settings import DEFAULT_RUN_TEMPLATE_URLS
from tests.network import free_port
from tests.raw_server import Handler, RawServer

JOB = b"apiVersion: batch/v1\nkind: Job\nspec: {template: {spec: {containers: [{name: flow}]}}}\n"


@pytest.fixture
def serve() -> Iterator:  # type: ignore[type-arg]
    servers: list[RawServer] = []

    def start(handler: Handler) -> str:
        server = RawServer(handler)
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.close()


def answer(body: bytes, status: str = "200 OK", headers: str = "") -> Handler:
    def handler(conn: socket.socket, _: bytes, __: threading.Event) -> None:
        head = f"HTTP/1.1 {status}\r\nConnection: close\r\n{headers}"
        if body:
            head += f"Content-Length: {len(body)}\r\n"
        conn.sendall(head.encode() + b"\r\n" + body)

    return handler


def test_a_dripping_server_times_out_within_the_limit(serve) -> None:  # type: ignore[no-untyped-def]
    def drip(conn: socket.socket, _: bytes, stopped: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while not stopped.wait(0.05):  # one byte every 50 ms: each read succeeds
            conn.sendall(b"a")

    url = serve(drip)
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"within 0.5s \(agent.kubernetes.job_template_timeout"):
        load_template(f"{url}/job.yaml", FetchLimits(timeout=0.5))
    assert time.monotonic() - started < 3


def test_dripping_headers_time_out_too(serve) -> None:  # type: ignore[no-untyped-def]
    def drip(conn: socket.socket, _: bytes, stopped: threading.Event) -> None:
        while not stopped.wait(0.05):
            conn.sendall(b"X")

    url = serve(drip)
    started = time.monotonic()
    with pytest.raises(TemplateError, match="could not be read within"):
        load_template(f"{url}/job.yaml", FetchLimits(timeout=0.5))
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("declared", [True, False])
def test_answers_above_the_byte_cap_are_refused(serve, declared: bool) -> None:  # type: ignore[no-untyped-def]
    body = b"a: " + b"x" * 5000 + b"\n"

    def big(conn: socket.socket, _: bytes, __: threading.Event) -> None:
        length = f"Content-Length: {len(body)}\r\n" if declared else ""
        conn.sendall(f"HTTP/1.1 200 OK\r\nConnection: close\r\n{length}\r\n".encode() + body)

    url = serve(big)
    with pytest.raises(TemplateError, match=r"larger than 1000 bytes \(agent.kubernetes.job_temp"):
        load_template(f"{url}/job.yaml", FetchLimits(max_bytes=1000))


def test_a_big_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_bytes(JOB + b"#" * 2000)
    with pytest.raises(TemplateError, match="larger than 1000 bytes"):
        load_template(str(path), FetchLimits(max_bytes=1000))


def test_devices_and_fifos_are_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        with pytest.raises(TemplateError, match="is not a regular file"):
            load_template(path)


def test_yaml_aliases_are_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    with pytest.raises(TemplateError, match=r"aliases .* are not accepted"):
        parse_template(bomb, "bomb.yaml")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"nested too deeply|not valid YAML"):
        parse_template("[" * 100_000, "deep.yaml")


@pytest.mark.parametrize(
    "content",
    [
        '[cloud]\napi_key = "pcu_SECRET123456"\n',  # TOML: a YAML error
        'kind: Job\nspec: "pcu_SECRET123456"\n',  # a Job whose spec is no mapping
        '"pcu_SECRET123456"\n',  # a scalar
        'apiVersion: pcu_SECRET123456\nkind: "Job: pcu_SECRET123456"\n',
    ],
)
def test_errors_never_quote_what_was_read(tmp_path: Path, content: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(content)
    with pytest.raises(TemplateError) as caught:
        load_template(str(path))
    assert "SECRET" not in str(caught.value)
    assert str(path) in str(caught.value)


def test_run_configs_may_not_read_agent_files_by_default(tmp_path: Path) -> None:
    for location in ("/etc/passwd", "agent:///etc/passwd", "file:///etc/passwd", "job.yaml"):
        refusal = source_refusal(location, allowed_dir=None, allowed_urls=DEFAULT_RUN_TEMPLATE_URLS)
        assert "outside agent.kubernetes.run_template_dir" in refusal


def test_files_under_the_allowed_directory(tmp_path: Path) -> None:
    allowed = tmp_path / "templates"
    allowed.mkdir()
    (allowed / "job.yaml").write_bytes(JOB)
    (allowed / "escape.yaml").symlink_to("/etc/passwd")
    ok = {"allowed_dir": str(allowed), "allowed_urls": ()}
    assert source_refusal(str(allowed / "job.yaml"), **ok) == ""  # type: ignore[arg-type]
    assert source_refusal(f"agent://{allowed}/job.yaml", **ok) == ""  # type: ignore[arg-type]
    for bad in (f"{allowed}/../secret", str(allowed / "escape.yaml"), str(tmp_path)):
        assert source_refusal(bad, **ok), bad  # type: ignore[arg-type]


def test_urls_must_match_a_pattern() -> None:
    defaults = {"allowed_dir": None, "allowed_urls": DEFAULT_RUN_TEMPLATE_URLS}
    for fine in ("https://example.com/job.yaml", "s3://b/job.yaml", "gs://b/j", "gcs://b/j"):
        assert source_refusal(fine, **defaults) == ""  # type: ignore[arg-type]
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    assert "run_template_urls" in source_refusal(metadata, **defaults)  # type: ignore[arg-type]
    narrow = {"allowed_dir": None, "allowed_urls": ("https://templates.example.com/*",)}
    assert source_refusal("https://templates.example.com/a.yaml", **narrow) == ""  # type: ignore[arg-type]
    assert source_refusal("https://evil.example.com/a.yaml", **narrow)  # type: ignore[arg-type]


def test_missing_extras_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.setitem(sys.modules, "google.cloud.storage", None)
    with pytest.raises(TemplateError, match=r"pip install 'prefect-agent\[s3\]'"):
        load_template("s3://bucket/job.yaml")
    for scheme in ("gs", "gcs"):
        with pytest.raises(TemplateError, match=r"pip install 'prefect-agent\[gcs\]'"):
            load_template(f"{scheme}://bucket/job.yaml")


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    pytest.importorskip("boto3", reason="the s3 extra (boto3) is not installed")
    pytest.importorskip("moto", reason="moto (the AWS emulator) is not installed")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        from tests.polling import eventually

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        eventually(up, "moto server")
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)


def test_s3_templates_through_moto(moto_s3: str) -> None:
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="job.yaml", Body=JOB)
    s3.put_object(Bucket="templates", Key="big.yaml", Body=JOB + b"#" * 5000)
    assert load_template("s3://templates/job.yaml")["kind"] == "Job"
    with pytest.raises(TemplateError, match="larger than 1000 bytes"):
        load_template("s3://templates/big.yaml", FetchLimits(max_bytes=1000))
    with pytest.raises(TemplateError, match=r"s3://templates/missing\.yaml: S3 answered NoSuchKey"):
        load_template("s3://templates/missing.yaml")


def test_redirects_are_checked_against_the_policy(serve) -> None:  # type: ignore[no-untyped-def]
    from prefect_agent.adapters.kubernetes.template_fetch import FetchError, fetch

    target = serve(answer(JOB))
    hop = serve(answer(b"", "302 Found", f"Location: {target}/job.yaml\r\n"))
    assert fetch(f"{hop}/x", FetchLimits()) == JOB
    with pytest.raises(FetchError, match="redirects to an address this agent's policy refuses"):
        fetch(f"{hop}/x", FetchLimits(), allow_redirect=lambda url: False)


@pytest.fixture
def fake_gcs(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bytes]]:
    """A JSON-API stand-in for GCS (google-cloud-storage talks to STORAGE_EMULATOR_HOST)."""
    pytest.importorskip("google.cloud.storage", reason="the gcs extra is not installed")
    import http.server
    import json
    import re
    from urllib.parse import unquote

    objects: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = re.match(r"^/download/storage/v1/b/([^/]+)/o/([^?]+)", self.path)
            if not found:  # bucket metadata
                self._answer(200, json.dumps({"name": "templates"}).encode())
                return
            name = f"{found.group(1)}/{unquote(found.group(2))}"
            if name not in objects:
                self._answer(404, b'{"error": {"code": 404, "message": "No such object"}}')
                return
            data = objects[name]
            wanted = re.match(r"bytes=(\d+)-(\d+)", self.headers.get("range", ""))
            if wanted:
                data = data[int(wanted.group(1)) : int(wanted.group(2)) + 1]
            self._answer(200, data)

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "templates-test")
    try:
        yield objects
    finally:
        server.shutdown()
        thread.join()


def test_gcs_templates_through_an_emulated_api(fake_gcs: dict[str, bytes]) -> None:
    fake_gcs["templates/k8s/job.yaml"] = JOB
    fake_gcs["templates/big.yaml"] = JOB + b"#" * 5000
    for scheme in ("gs", "gcs"):
        assert load_template(f"{scheme}://templates/k8s/job.yaml")["kind"] == "Job"
    with pytest.raises(TemplateError, match="larger than 1000 bytes"):
        load_template("gs://templates/big.yaml", FetchLimits(max_bytes=1000))
    with pytest.raises(TemplateError, match=r"gs://templates/nope\.yaml does not exist"):
        load_template("gs://templates/nope.yaml")
