"""End to end: ``prefect agent vertex start`` (a subprocess, the real CLI) against the embedded
API and the local Vertex AI stand-in, through the official client's REST transport and real
Application Default Credentials: a service-account key file (a key made here; its token
endpoint is the stand-in, though the client signs its own JWTs), whose project becomes the
agent's when --project is not given.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("google.cloud.aiplatform_v1")
pytest.importorskip("graphql")

from prefect_agent.server.testing import RunningServer
from tests.agent_process import AgentProcess
from tests.prefect1.venv import Prefect1
from tests.vertex.vertex_api import VertexApi, running_vertex_api

pytestmark = pytest.mark.e2e


def signed_by(authorizations: set[str]) -> set[str]:
    """The issuers of the bearer tokens: the official client signs its own JWT with a
    service-account key (self-signed JWT access) instead of asking the token endpoint."""
    issuers = set()
    for header in authorizations:
        scheme, _, token = header.partition(" ")
        assert scheme == "Bearer"
        payload = token.split(".")[1]
        issuers.add(
            json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iss"]
        )
    return issuers


def service_account_file(token_uri: str) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "type": "service_account",
        "project_id": "proj",
        "private_key_id": "k1",
        "private_key": pem.decode(),
        "client_email": "agent@proj.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }


@pytest.fixture
def vertex() -> Iterator[VertexApi]:
    with running_vertex_api() as api:
        yield api


def test_a_run_becomes_a_custom_job_and_a_failed_job_fails_it(
    prefect1: Prefect1, api: RunningServer, vertex: VertexApi, tmp_path: Path
) -> None:
    run_config = prefect1.run_config('VertexRun(env={"FROM_RUN": "2"})')
    run_id = api.create_run(labels=["gcp"], run_config=run_config)
    adc = tmp_path / "adc.json"
    adc.write_text(json.dumps(service_account_file(f"{vertex.url}/token")))
    agent = AgentProcess(
        "vertex", api.url, tmp_path,
        "--region-name", "eu1",
        "--api-endpoint", vertex.url, "--service-account", "flows@proj",
        "--job-sync-interval-seconds", "0.2", "--monitor-interval", "0.2",
        labels=["gcp"], api_key=api.api_key,
        env={"GOOGLE_APPLICATION_CREDENTIALS": str(adc)}, drop=("GOOGLE",),
    )  # fmt: skip
    try:
        agent.eventually(lambda: vertex.jobs_of(run_id), "a job")
        job = vertex.job_of(run_id)
        assert job["name"].startswith("projects/proj/locations/eu1/customJobs/")
        assert job["jobSpec"]["serviceAccount"] == "flows@proj"
        (pool,) = job["jobSpec"]["workerPoolSpecs"]
        assert pool["machineSpec"]["machineType"] == "e2-standard-4"
        container = pool["containerSpec"]
        assert container["imageUri"] == "prefecthq/prefect:1.4.1"
        assert container["command"] == ["prefect", "execute", "flow-run"]
        env_vars = {e["name"]: e.get("value", "") for e in container["env"]}
        assert env_vars["PREFECT__CONTEXT__FLOW_RUN_ID"] == run_id
        assert env_vars["FROM_RUN"] == "2"
        assert signed_by(vertex.authorizations) == {"agent@proj.iam.gserviceaccount.com"}
        assert api.state_of(run_id) == "Submitted"

        message = "The replica workerpool0-0 exited with a non-zero status of 1."
        vertex.finish(job["name"], "JOB_STATE_FAILED", message, code=3)
        agent.eventually(lambda: api.state_of(run_id) == "Failed", "the run to fail")
        logs = "\n".join(entry["message"] for entry in api.logs(run_id))
        assert message in logs
    finally:
        status = agent.terminate()
    assert status == 0, agent.text()[-3000:]
    assert "FROM_RUN" not in agent.text()  # the job's environment is never logged
