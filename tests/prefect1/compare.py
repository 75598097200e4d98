"""Field-by-field comparison of what Prefect 1.4.1's agents launch with what ours launch.

Each ``same_*`` asserts equality after removing only the differences listed in the
"Differences from Prefect 1.4.1" sections of docs/local.md, docs/docker.md and
docs/kubernetes.md; every such removal below names the difference it stands for.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.prefect1 import ours as our_side

LEGACY_IDENTIFIER = "prefect.io/identifier"


def same_local(theirs: dict[str, Any], ours: dict[str, Any]) -> None:
    # The interpreter differs (theirs is the 1.4.1 venv's); the module and arguments do not.
    assert ours["args"][1:] == theirs["args"][1:]
    assert ours["env"] == theirs["env"]
    assert ours["cwd"] == theirs["cwd"]


def _bind_list(binds: dict[str, dict[str, str]]) -> list[str]:
    return [f"{host}:{spec['bind']}:{spec['mode']}" for host, spec in binds.items()]


def same_docker(theirs: dict[str, Any], ours: dict[str, Any]) -> None:
    container = theirs["container"]
    assert ours["image"] == container["image"]
    assert ours["command"] == container["command"].split()
    # Difference: a null env value. 1.4.1 passed the bare name (the engine then drops the
    # image's value too); ours leaves the variable out of the list.
    # docker-py writes each variable as f"{name}={value}": a number or boolean as its text.
    assert ours["environment"] == {
        k: str(v) for k, v in container["environment"].items() if v is not None
    }
    assert ours["ports"] == container["ports"]
    host = dict(theirs["host_config"])
    # Difference: containers are removed by the agent after their exit status is read.
    assert host.pop("auto_remove") is True and ours["host_config"].pop("auto_remove") is False
    if "binds" in host and isinstance(host["binds"], dict):
        host["binds"] = _bind_list(host["binds"])
    assert ours["host_config"] == host


def _without_empty(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v not in ({}, None)}


def _normal_job(job: dict[str, Any], *, ours: bool) -> dict[str, Any]:
    job = copy.deepcopy(job)
    # Difference: names, labels, annotations and namespace identify the run's Job
    # deterministically (checked separately); 1.4.1 used a random identifier.
    job.pop("metadata", None)
    pod_template = job["spec"]["template"]
    pod_template.pop("metadata", None)
    # Difference: a failed pod is not retried (backoffLimit 0) unless the template says so.
    if ours:
        job["spec"].pop("backoffLimit", None)
    for container in pod_template["spec"]["containers"]:
        if "resources" in container:
            container["resources"] = _without_empty(container["resources"])
            if not container["resources"]:
                del container["resources"]
        if not ours and "env" in container:
            # Difference: a null env value removes the variable (1.4.1 wrote it valueless).
            container["env"] = [e for e in container["env"] if e.get("value", "") is not None]
    return job


def same_job(theirs: dict[str, Any], ours: dict[str, Any]) -> None:
    assert _normal_job(ours, ours=True) == _normal_job(theirs, ours=False)
    for job in (theirs, ours):
        assert job["metadata"]["labels"] == job["spec"]["template"]["metadata"]["labels"]
    wanted = {k: v for k, v in theirs["metadata"]["labels"].items() if k != LEGACY_IDENTIFIER}
    assert wanted.items() <= ours["metadata"]["labels"].items()


SAME = {"local": same_local, "docker": same_docker, "kubernetes": same_job}


def ours_for(kind: str, request: dict[str, Any], row: dict[str, Any]) -> Any:
    agent = request["agent"]
    if kind == "local":
        return our_side.local(row, agent, request["environ"])
    return getattr(our_side, kind)(row, agent)


def check(request: dict[str, Any], answer: dict[str, Any]) -> None:
    """What Prefect 1.4.1's agent launched for the request, ours launches too."""
    kind = request["op"]
    assert "row" in answer, answer
    ours_launch = ours_for(kind, request, answer["row"])
    assert "error" not in answer, f"Prefect 1.4.1's {kind} agent refused: {answer['error']}"
    SAME[kind](answer["launch"], ours_launch)
