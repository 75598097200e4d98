"""The wire format of the Prefect API to and from domain objects, with cattrs.

A row that cannot be read becomes an ``UnreadableRun`` carrying the reason (so that run is
failed with it) instead of failing the whole poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import cattrs

from prefect_agent.domain.flow_run import FlowRun, TaskRun
from prefect_agent.domain.images import storage_image_name
from prefect_agent.domain.outcomes import UnreadableRun
from prefect_agent.domain.run_config import RUN_CONFIG_TYPES, RunConfig
from prefect_agent.domain.states import PREFECT_VERSION, is_scheduled

converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
"""Structures run configs and task runs; errors carry the path of the bad field."""

WIRE_ONLY_KEYS = ("type", "__version__")


class RowError(ValueError):
    """A metadata row (or a part of it) is malformed; the message says where and why."""


def _problem(exc: Exception, path: str) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc, path=path))
    return f"{path}: {exc}"


def parse_timestamp(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise RowError(f"{what} must be an ISO 8601 string, not {value!r}")
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(f"{what} {value!r} is not an ISO 8601 timestamp") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def run_config_from_json(data: Any, run_id: str = "") -> RunConfig | None:
    """A domain run config from its serialized form; ``RowError`` says what is wrong."""
    if data is None:
        return None
    subject = f"flow run {run_id}'s run config" if run_id else "run config"
    if not isinstance(data, Mapping):
        raise RowError(f"{subject} must be a JSON object, not {type(data).__name__}")
    type_name = data.get("type")
    cls = RUN_CONFIG_TYPES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        supported = ", ".join(RUN_CONFIG_TYPES)
        raise RowError(
            f"{subject} has type {type_name!r}, which prefect-agent cannot run "
            f"(it runs {supported})"
        )
    # Prefect 1.4.1 writes every unset field as null: null means "the default".
    fields = {
        key: value for key, value in data.items() if key not in WIRE_ONLY_KEYS and value is not None
    }
    if "env" in fields:
        fields["env"] = _run_env(fields["env"], f"{subject} ({type_name})")
    try:
        return converter.structure(fields, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        raise RowError(
            f"{subject} ({type_name}) is invalid: {_problem(exc, 'run_config')}"
        ) from None


def _run_env(env: Any, subject: str) -> dict[str, str | None]:
    """``env`` as Prefect's agents pass it on: scalars as text (``str()``, as docker-py
    formats them), ``None`` kept (it removes the variable); nested values are refused."""
    if not isinstance(env, Mapping):
        raise RowError(f"{subject} is invalid: run_config.env must be an object, not {env!r:.80}")
    out: dict[str, str | None] = {}
    for name, value in env.items():
        if value is None or isinstance(value, str):
            out[str(name)] = value
        elif isinstance(value, (bool, int, float)):
            out[str(name)] = str(value)
        else:
            raise RowError(
                f"{subject} is invalid: run_config.env.{name} must be a string, a number or "
                f"null, not {type(value).__name__}"
            )
    return out


def run_config_to_json(run_config: RunConfig) -> dict[str, Any]:
    """The serialized form Prefect 1.4.1 stores (``type`` and ``__version__`` included)."""
    data: dict[str, Any] = converter.unstructure(run_config)
    data["type"] = type(run_config).__name__
    data["__version__"] = PREFECT_VERSION
    return data


def _storage_image(storage: Mapping[str, Any]) -> str | None:
    """The image of Docker storage: ``<registry_url>/<image_name>:<image_tag>``."""
    if storage.get("type") != "Docker" or not storage.get("image_name"):
        return None
    registry, tag = storage.get("registry_url"), storage.get("image_tag")
    return storage_image_name(
        str(registry) if registry else None, str(storage["image_name"]), str(tag) if tag else None
    )


def _task_run(data: Any, index: int) -> TaskRun:
    if not isinstance(data, Mapping):
        raise RowError(f"task_runs[{index}] must be an object")
    try:
        return TaskRun(
            id=_text(data.get("id"), f"task_runs[{index}].id"),
            version=_version(data.get("version"), f"task_runs[{index}].version"),
            task_id=str(data.get("task_id") or ""),
            state=str(data.get("state") or "Retrying"),
            serialized_state=_object(data.get("serialized_state"), f"task_runs[{index}]"),
        )
    except (TypeError, ValueError) as exc:
        raise RowError(f"task_runs[{index}]: {exc}") from None


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise RowError(f"{what} must be a non-empty string, not {value!r}")
    return value


def _version(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError(f"{what} must be an integer, not {value!r}")
    return value


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RowError(f"{what}.serialized_state must be a JSON object, not {value!r}")
    return value


def _labels(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(label, str) for label in value):
        raise RowError(f"labels must be a list of strings, not {value!r}")
    return tuple(value)


def flow_run_from_row(row: Any) -> FlowRun | UnreadableRun:
    """A ``FlowRun`` from one row of the metadata query, or an ``UnreadableRun`` saying why.

    ``start_time`` is the Scheduled-family state's ``start_time`` (None: due now).
    """
    if not isinstance(row, Mapping) or not isinstance(row.get("id"), str):
        raise RowError(f"a flow_run row without an id cannot be read: {row!r:.200}")
    run_id = row["id"]
    raw_version = row.get("version")
    version = raw_version if isinstance(raw_version, int) else None
    try:
        state = _text(row.get("state"), "state")
        serialized = _object(row.get("serialized_state"), "flow run")
        start_time = None
        if is_scheduled(state) and serialized.get("start_time") is not None:
            start_time = parse_timestamp(serialized["start_time"], "serialized_state.start_time")
        flow = row.get("flow") or {}
        if not isinstance(flow, Mapping):
            raise RowError("flow must be an object")
        storage = flow.get("storage")
        storage = storage if isinstance(storage, Mapping) else {}
        tasks = row.get("task_runs") or []
        if not isinstance(tasks, list):
            raise RowError("task_runs must be a list")
        return FlowRun(
            id=run_id,
            version=_version(raw_version, "version"),
            state=state,
            flow_id=str(flow.get("id") or ""),
            flow_name=str(flow.get("name") or ""),
            flow_version=flow.get("version") if isinstance(flow.get("version"), int) else None,
            name=str(row.get("name") or ""),
            serialized_state=serialized,
            start_time=start_time,
            labels=_labels(row.get("labels")),
            run_config=run_config_from_json(row.get("run_config")),
            core_version=flow.get("core_version"),
            storage_type=storage.get("type"),
            storage_image=_storage_image(storage),
            task_runs_due=tuple(_task_run(task, i) for i, task in enumerate(tasks)),
        )
    except (TypeError, ValueError) as exc:  # RowError included
        reason = f"Flow run {run_id} cannot be read: {exc}"
        return UnreadableRun(run_id=run_id, reason=reason, version=version)
