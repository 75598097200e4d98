"""Deterministic Kubernetes names and label values for a run's Job and this agent's identity."""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63
"""Job names become the ``job-name`` label of their pods, so they must fit a label (63)."""

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

JOB_PREFIX = "prefect-"
DIGEST_LENGTH = 10

# The labels and annotations this agent writes on every Job (and its pod template).
OWNER_LABEL = "prefect-agent.io/owner"
RUN_LABEL = "prefect.io/flow_run_id"
FLOW_LABEL = "prefect.io/flow_id"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "prefect-agent"
RUN_ANNOTATION = "prefect-agent.io/flow-run-id"
FLOW_ANNOTATION = "prefect-agent.io/flow-id"
RUN_NAME_ANNOTATION = "prefect-agent.io/flow-run-name"
REPORTED_ANNOTATION = "prefect-agent.io/reported-at"
LEGACY_LABEL = "prefect.io/identifier"
"""The label Prefect 1.4.1's agents put on their jobs (with no owner label)."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:DIGEST_LENGTH]


def _slug(text: str) -> str:
    """``text`` lower-cased with every character a DNS-1123 label forbids turned into ``-``."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")


def job_name(run_id: str, version: int) -> str:
    """The Job name for one launch of a run: ``prefect-<run id>-<digest of id and version>``.

    The same run at the same version always gets the same name, so a retried or repeated
    launch meets the existing Job (409) instead of starting a second one; a later launch of the
    same run (a task-run retry, a run Lazarus rescheduled) has a new version and a new Job.
    A UUID run id is kept whole (55 characters); anything else is slugged and truncated, the
    digest keeping names of different runs apart.
    """
    digest = _digest(run_id, str(version))
    room = MAX_NAME - len(JOB_PREFIX) - 1 - DIGEST_LENGTH
    slug = _slug(run_id)[:room].rstrip("-")
    return f"{JOB_PREFIX}{slug}-{digest}" if slug else f"{JOB_PREFIX}{digest}"


def label_value(text: str) -> str:
    """``text`` if it is a valid label value, else a valid value derived from it (stable)."""
    if len(text) <= MAX_NAME and LABEL_VALUE.match(text):
        return text
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", text)
    head = cleaned[: MAX_NAME - DIGEST_LENGTH - 1].strip("-_.")
    return f"{head}-{_digest(text)}" if head else _digest(text)
