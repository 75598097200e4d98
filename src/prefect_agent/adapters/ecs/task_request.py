"""Building a run's task definition and ``run_task`` arguments, as Prefect 1.4.1's ECS agent
does, plus the tags and ``startedBy`` that let a retried launch find its task."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from prefect_agent.adapters.ecs.documents import plain_dict
from prefect_agent.domain.ecs_run_config import ECSRun
from prefect_agent.domain.ecs_settings import ECSSettings
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.images import flow_image
from prefect_agent.domain.launch_spec import LaunchSpec
from prefect_agent.domain.slugs import slug

FLOW_CONTAINER = "flow"
FAMILY_PREFIX = "prefect-"
FAMILY_MAX = 255
RUN_TAG = "prefect:flow-run-id"
OWNER_TAG = "prefect:agent"
FLOW_ID_TAG = "prefect:flow-id"
FLOW_VERSION_TAG = "prefect:flow-version"
CONTAINER_OVERRIDES = "containerOverrides"


def merge_run_task_kwargs(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``extra``: top-level keys and ``overrides`` keys are replaced,
    ``overrides.containerOverrides`` entries are merged by ``name``; a capacity provider
    strategy and a launch type exclude each other (the one in ``extra`` wins)."""
    out = plain_dict(base)
    extra = plain_dict(extra)
    if "capacityProviderStrategy" in extra:
        out.pop("launchType", None)
    if "launchType" in extra:
        out.pop("capacityProviderStrategy", None)
    out.update({k: v for k, v in extra.items() if k != "overrides"})
    overrides = extra.get("overrides") or {}
    if overrides:
        merged = out.setdefault("overrides", {})
        merged.update({k: v for k, v in overrides.items() if k != CONTAINER_OVERRIDES})
        for entry in overrides.get(CONTAINER_OVERRIDES) or ():
            existing = merged.setdefault(CONTAINER_OVERRIDES, [])
            for current in existing:
                if current.get("name") == entry.get("name"):
                    current.update(entry)
                    break
            else:
                existing.append(entry)
    return out


def _named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The entry called ``name``, appended when there is none."""
    for item in items:
        if item.get("name") == name:
            return item
    item = {"name": name}
    items.append(item)
    return item


def _env_list(
    env: Mapping[str, str], existing: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """``env`` as ECS name/value pairs, then the entries already there that it does not set."""
    listed = [{"name": k, "value": v} for k, v in env.items()]
    listed += [e for e in existing or () if e.get("name") not in env]
    return listed


def family_of(run: FlowRun) -> str:
    return FAMILY_PREFIX + slug(f"{run.flow_name}-{run.id}", FAMILY_MAX - len(FAMILY_PREFIX))


def task_definition_for(
    template: Mapping[str, Any],
    run: FlowRun,
    run_config: ECSRun,
    settings: ECSSettings,
    launch_type: str | None,
) -> dict[str, Any]:
    """The definition registered for this run (template: the run config's or the agent's)."""
    taskdef = plain_dict(template)
    taskdef["family"] = family_of(run)
    taskdef.setdefault("tags", []).extend(
        [
            {"key": FLOW_ID_TAG, "value": run.flow_id},
            {"key": FLOW_VERSION_TAG, "value": str(run.flow_version)},
        ]
    )
    container = _named(taskdef.setdefault("containerDefinitions", []), FLOW_CONTAINER)
    image = flow_image(run, run_config.image, container.get("image"))
    container["image"] = image
    container["environment"] = _env_list(
        {"PREFECT__CONTEXT__IMAGE": image}, container.get("environment")
    )
    for field in ("cpu", "memory"):
        if field in taskdef:
            taskdef[field] = str(taskdef[field])
    if "executionRoleArn" not in taskdef:
        role = run_config.execution_role_arn or settings.execution_role_arn
        if role:
            taskdef["executionRoleArn"] = role
    if "requiresCompatibilities" not in taskdef and launch_type:
        taskdef["requiresCompatibilities"] = [launch_type]
    return taskdef


def run_task_kwargs_for(
    agent_kwargs: Mapping[str, Any],
    run_config: ECSRun,
    taskdef: Mapping[str, Any],
    spec: LaunchSpec,
    settings: ECSSettings,
    owner: str,
) -> dict[str, Any]:
    """The ``run_task`` arguments (without ``taskDefinition``) for one run."""
    out = plain_dict(agent_kwargs)
    if run_config.run_task_kwargs:
        out = merge_run_task_kwargs(out, run_config.run_task_kwargs)
    overrides = out.setdefault("overrides", {})
    container = _named(overrides.setdefault(CONTAINER_OVERRIDES, []), FLOW_CONTAINER)
    for field, from_run, agent_default in (
        ("taskRoleArn", run_config.task_role_arn, settings.task_role_arn),
        ("executionRoleArn", run_config.execution_role_arn, settings.execution_role_arn),
    ):
        role = from_run or taskdef.get(field) or agent_default
        if role:
            overrides[field] = role
    for field, value in (("cpu", run_config.cpu), ("memory", run_config.memory)):
        if value:
            overrides[field] = str(value)
        elif field in overrides:
            overrides[field] = str(overrides[field])
    container["command"] = ["/bin/sh", "-c", shlex.join(spec.command)]
    container["environment"] = _env_list(spec.environment(), container.get("environment"))
    # Ours, so that a retried launch or a restarted agent finds the task of this run.
    out["startedBy"] = spec.run_id
    tags = [t for t in out.get("tags") or () if t.get("key") not in (RUN_TAG, OWNER_TAG)]
    out["tags"] = [
        *tags,
        {"key": RUN_TAG, "value": spec.run_id},
        {"key": OWNER_TAG, "value": owner},
    ]
    return out
