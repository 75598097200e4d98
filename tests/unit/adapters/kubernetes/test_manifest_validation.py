"""The validator the other tests rely on really rejects what it should."""

from __future__ import annotations

import pytest

from prefect_agent.adapters.kubernetes.job_templates import default_template
from tests.unit.adapters.kubernetes.manifest_validation import assert_valid


def test_an_unknown_field_is_rejected_in_strict_mode() -> None:
    job = default_template()
    job["metadata"]["name"] = "x"
    job["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox"
    assert_valid(job)
    job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(AssertionError, match="imagePullPolicyy"):
        assert_valid(job)


def test_a_wrong_type_is_rejected() -> None:
    job = default_template()
    job["spec"]["backoffLimit"] = "zero"
    with pytest.raises(AssertionError):
        assert_valid(job)
