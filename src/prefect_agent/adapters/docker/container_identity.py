"""The deterministic name and labels of a run's container.

The name depends only on the run id, so two launches of one run (a retry, a restarted
agent, a second agent racing) collide at the engine instead of starting twice. The labels
let a restarted agent find its containers and let people see which run a container holds.
"""

from __future__ import annotations

import re

from prefect_agent.domain.launch_spec import LaunchSpec

RUN_ID = "io.prefect.flow-run-id"
RUN_NAME = "io.prefect.flow-run-name"
FLOW_ID = "io.prefect.flow-id"
FLOW_NAME = "io.prefect.flow-name"
AGENT = "io.prefect.agent"
VOLUME_CREATED = "io.prefect.created-by"
PREFECT1_VOLUME_LABEL = "prefect_created"

_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def container_name(run_id: str) -> str:
    """``prefect-<run id>``, reduced to the characters the engine allows in names."""
    return "prefect-" + _UNSAFE.sub("-", run_id)


def container_labels(spec: LaunchSpec, *, flow_name: str, agent: str) -> dict[str, str]:
    return {
        RUN_ID: spec.run_id,
        RUN_NAME: spec.run_name,
        FLOW_ID: spec.flow_id,
        FLOW_NAME: flow_name,
        AGENT: agent,
    }


def run_filter(run_id: str) -> dict[str, list[str]]:
    """Engine list filter for the containers of one run (whichever agent made them)."""
    return {"label": [f"{RUN_ID}={run_id}"]}


def agent_filter(agent: str) -> dict[str, list[str]]:
    """Engine list filter for every container this agent (by name) launched."""
    return {"label": [f"{AGENT}={agent}", RUN_ID]}


def volume_labels(agent: str) -> dict[str, str]:
    return {VOLUME_CREATED: agent, PREFECT1_VOLUME_LABEL: "true"}
