from __future__ import annotations

from typing import Any

import pytest

from prefect_agent.adapters.kubernetes.job_checks import is_quantity, job_problems


def job(**pod: Any) -> dict[str, Any]:
    spec = {"restartPolicy": "Never", "containers": [{"name": "flow", "image": "busybox"}]}
    spec.update(pod)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "prefect-x", "labels": {"a": "b"}},
        "spec": {"backoffLimit": 0, "template": {"spec": spec}},
    }


def test_a_good_job_has_no_problems() -> None:
    assert job_problems(job()) == []


@pytest.mark.parametrize("value", ["1", "0.5", "500m", "1Gi", "128974848", "129e6", "1.5Ki", ".5"])
def test_quantities(value: str) -> None:
    assert is_quantity(value)


@pytest.mark.parametrize("value", ["lots", "-1", "1 Gi", "1gb", "", "1Gii", "m"])
def test_not_quantities(value: str) -> None:
    assert not is_quantity(value)


def test_restart_policy_must_be_never() -> None:
    problems = job_problems(job(restartPolicy="Always"))
    assert any("restartPolicy must be Never" in p for p in problems)


def test_bad_memory_is_named() -> None:
    problems = job_problems(
        job(
            containers=[{"name": "flow", "image": "i", "resources": {"limits": {"memory": "lots"}}}]
        )
    )
    assert problems == [
        "spec.template.spec.containers[0].resources.limits.memory 'lots' is not a quantity"
    ]


def test_negative_backoff_limit() -> None:
    manifest = job()
    manifest["spec"]["backoffLimit"] = -1
    assert any("backoffLimit" in p for p in job_problems(manifest))


def test_names_and_labels_must_be_dns_valid() -> None:
    manifest = job(containers=[{"name": "Flow_1", "image": "i"}])
    manifest["metadata"]["name"] = "Prefect_Job"
    manifest["metadata"]["labels"] = {"bad key!": "x", "ok": "not valid!"}
    problems = job_problems(manifest)
    assert len(problems) == 4, problems


def test_no_containers() -> None:
    assert "spec.template.spec.containers is empty" in job_problems(job(containers=[]))
