from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from prefect_agent.adapters.kubernetes.job_naming import LABEL_VALUE, job_name, label_value
from prefect_agent.domain.kubernetes_settings import DNS_1123_LABEL

run_ids = st.one_of(st.uuids().map(str), st.text(min_size=1, max_size=200))
versions = st.integers(min_value=0, max_value=10**15)


@given(run_ids, versions)
def test_job_names_are_dns_1123_labels_of_at_most_63_characters(run_id: str, version: int) -> None:
    name = job_name(run_id, version)
    assert len(name) <= 63
    assert DNS_1123_LABEL.match(name), name


@given(run_ids, versions)
def test_job_names_are_deterministic(run_id: str, version: int) -> None:
    assert job_name(run_id, version) == job_name(run_id, version)


@given(run_ids, run_ids, versions, versions)
def test_different_launches_get_different_names(a: str, b: str, v: int, w: int) -> None:
    if (a, v) != (b, w):
        assert job_name(a, v) != job_name(b, w)


def test_a_uuid_run_id_is_readable_in_the_job_name() -> None:
    run_id = str(uuid.uuid4())
    assert job_name(run_id, 3).startswith(f"prefect-{run_id}-")


def test_a_new_version_of_the_same_run_gets_a_new_job() -> None:
    assert job_name("run", 1) != job_name("run", 2)


@given(st.text(min_size=1, max_size=300))
def test_label_values_are_always_valid(text: str) -> None:
    value = label_value(text)
    assert len(value) <= 63
    assert LABEL_VALUE.match(value), value


def test_a_valid_label_value_is_kept_as_is() -> None:
    run_id = str(uuid.uuid4())
    assert label_value(run_id) == run_id
    assert label_value("my_agent.prod-1") == "my_agent.prod-1"


def test_an_invalid_label_value_keeps_a_readable_head() -> None:
    value = label_value("my agent!")
    assert value.startswith("my-agent")
    assert value != label_value("my agent?")
