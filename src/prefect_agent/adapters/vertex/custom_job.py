"""Building a run's ``CustomJob`` as Prefect 1.4.1's Vertex agent does, plus labels that let
a retried launch or a restarted agent find it."""

from __future__ import annotations

import re
from typing import Any

from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import LaunchSpec
from prefect_agent.domain.slugs import slug
from prefect_agent.domain.vertex_run_config import VertexRun
from prefect_agent.domain.vertex_settings import VertexSettings

RUN_LABEL = "prefect-flow-run-id"
OWNER_LABEL = "prefect-agent"
VERDICT_LABEL = "prefect-verdict"
VERDICT_KEPT = "until-acknowledged"
"""A job labelled so is deleted once its outcome is in the API: a restarted agent reports any
such job that ended (Vertex AI cannot relabel a job, so deletion is the only mark it can
leave). Jobs of agents that predate the label are adopted only while they run."""
DISPLAY_NAME_MAX = 255
LABEL_MAX = 63
_NOT_LABEL = re.compile(r"[^a-z0-9_-]+")


def label_value(text: str) -> str:
    """``text`` as a Vertex label value: lower-case letters, digits, ``_`` and ``-``."""
    return _NOT_LABEL.sub("-", text.lower()).strip("-")[:LABEL_MAX] or "agent"


def _plain(value: Any) -> Any:
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def custom_job_for(
    run: FlowRun, spec: LaunchSpec, settings: VertexSettings, owner: str
) -> dict[str, Any]:
    """The ``CustomJob`` (as a dict the client accepts) for one run."""
    run_config = spec.run_config
    assert isinstance(run_config, VertexRun)
    pools: list[dict[str, Any]] = (
        _plain(run_config.worker_pool_specs)
        if run_config.worker_pool_specs is not None
        else [{"machine_spec": {"machine_type": run_config.machine_type}, "replica_count": 1}]
    )
    job_spec: dict[str, Any] = {"worker_pool_specs": pools}
    if run_config.network is not None:
        job_spec["network"] = run_config.network
    service_account = run_config.service_account or settings.service_account
    if service_account is not None:
        job_spec["service_account"] = service_account
    if run_config.scheduling is not None:
        job_spec["scheduling"] = _plain(run_config.scheduling)
    # The flow always runs in the first pool's container.
    pools[0]["container_spec"] = {
        "image_uri": spec.image,
        "command": list(spec.command),
        "args": [],
        "env": [{"name": k, "value": v} for k, v in spec.environment().items()],
    }
    return {
        "display_name": slug(f"{run.flow_name}-{run.name}", DISPLAY_NAME_MAX),
        "job_spec": job_spec,
        "labels": {RUN_LABEL: run.id, OWNER_LABEL: label_value(owner), VERDICT_LABEL: VERDICT_KEPT},
    }


def console_url(job_name: str) -> str:
    """The Cloud console page of a job, from its ``projects/p/locations/r/customJobs/id``."""
    path = "/".join(job_name.split("/")[2:]).replace("customJobs", "training")
    return f"https://console.cloud.google.com/vertex-ai/{path}"
