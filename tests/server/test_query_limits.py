"""Cheap requests that used to cost the embedded API dearly (issue 15), now refused fast.

Times are measured with a deadline around the one request (generous for a loaded 2-core
machine; the attacks took seconds to minutes before).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from prefect_agent.server.bool_exp import like
from prefect_agent.server.request_limits import QueryLimits
from prefect_agent.server.testing import RunningServer, running_server
from tests.server.conftest import codes_of, errors_of, post

FAST = 1.0
"""Seconds a refused small attack may take (the fragment bomb alone took minutes before)."""
WIDE = 3.0
"""Seconds for a refused wide document: parsing it is linear, and this machine may be
loaded (validating the 300 repeated fields below took 2.3 s here before)."""


def timed_post(api: RunningServer, query: str) -> tuple[Any, float]:
    began = time.monotonic()
    response = post(api, {"query": query})
    return response, time.monotonic() - began


def refused_for(api: RunningServer, query: str, setting: str) -> float:
    """POST ``query``; assert it is refused naming ``setting``; return how long it took."""
    response, elapsed = timed_post(api, query)
    assert response.status_code == 400, response.text[:500]
    assert codes_of(response) == {"QUERY_LIMIT_EXCEEDED"}
    assert f"(setting {setting})" in errors_of(response)[0]["message"]
    return elapsed


def chained_fragments(links: int) -> str:
    """Each fragment spreads the previous one twice: 2**links fields if walked literally."""
    fragments = ["fragment F0 on flow_run { id }"] + [
        f"fragment F{i} on flow_run {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, links + 1)
    ]
    return f"query {{ flow_run {{ ...F{links} }} }}\n" + "\n".join(fragments)


def test_the_chained_fragment_bomb_is_rejected_in_milliseconds(api: RunningServer) -> None:
    for links in (18, 30):
        query = chained_fragments(links)
        assert len(query) < 1500  # the review's 1.3 KB query
        assert refused_for(api, query, "max_repeats") < FAST


def test_deep_fragment_chains_are_measured_once_per_fragment(api: RunningServer) -> None:
    fragments = ["fragment F0 on flow_run { id }"] + [
        f"fragment F{i} on flow_run {{ a: flow {{ flow_runs {{ ...F{i - 1} }} }} "
        f"b: flow {{ flow_runs {{ ...F{i - 1} }} }} }}"
        for i in range(1, 31)
    ]
    query = "query { flow_run { ...F30 } }\n" + "\n".join(fragments)
    assert refused_for(api, query, "max_depth") < FAST


def test_wide_documents_are_refused_before_validation(
    api: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # graphql-core compares every pair of same-named fields and of spread fragments: these
    # documents must never reach it.
    def no_validation(*_: object) -> None:
        raise AssertionError("a wide document reached validation")

    monkeypatch.setattr("prefect_agent.server.api.validate", no_validation)
    same_field = "{ " + "flow_run { id name state } " * 300 + "}"
    assert refused_for(api, same_field, "max_repeats") < WIDE
    fragments = "\n".join(f"fragment F{i} on flow_run {{ f{i}: id }}" for i in range(200))
    spreads = " ".join(f"...F{i}" for i in range(200))
    assert refused_for(api, f"{{ flow_run {{ {spreads} }} }}\n{fragments}", "max_spreads") < WIDE
    # A small document a fragment multiplies: 300 spreads of 100 fields.
    fields = " ".join(f"a{i}: id" for i in range(100))
    spread = " ".join(f"x{i}: flow_run {{ ...F }}" for i in range(300))
    multiplied = f"{{ {spread} }}\nfragment F on flow_run {{ {fields} }}"
    assert refused_for(api, multiplied, "max_fields") < WIDE


def test_documents_over_the_token_limit_stop_parsing() -> None:
    with running_server(query_limits=QueryLimits(max_tokens=1_000)) as api:
        tokens = "{ " + " ".join(f"h{i}: hello" for i in range(2000)) + " }"
        assert refused_for(api, tokens, "max_tokens") < FAST
        assert api.graphql("{ hello }")["hello"]


@pytest.fixture
def small_budget() -> Iterator[RunningServer]:
    limits = QueryLimits(max_rows=1_000, max_result_bytes=20_000)
    with running_server(query_limits=limits) as server:
        yield server


def test_nested_fan_out_stops_at_the_row_budget(small_budget: RunningServer) -> None:
    api = small_budget
    flow_id = api.create_flow("fan")
    api.create_runs(40, flow_id=flow_id)
    # 40 runs, each with its flow's 40 runs: 1 600 rows at the second level.
    response, elapsed = timed_post(api, "{ flow_run { flow { flow_runs { id } } } }")
    assert response.status_code == 400
    body = response.json()
    assert body["data"] is None and len(body["errors"]) == 1  # said once, not per field
    assert body["errors"][0]["message"] == (
        "Query resolves more than 1000 rows; narrow it with where/limit (setting max_rows)"
    )
    assert body["errors"][0]["path"][-1] == "flow_runs"
    assert elapsed < FAST * 5
    # Within the budget the same shape is answered.
    narrow = api.graphql("{ flow_run(limit: 5) { flow { flow_runs(limit: 3) { id } } } }")
    assert [len(run["flow"]["flow_runs"]) for run in narrow["flow_run"]] == [3] * 5


def test_answers_over_the_size_cap_are_refused(small_budget: RunningServer) -> None:
    api = small_budget
    api.create_runs(200, parameters={"padding": "x" * 100})
    response = post(api, {"query": "{ flow_run { id parameters } }"})
    assert response.status_code == 400
    assert codes_of(response) == {"QUERY_LIMIT_EXCEEDED"}
    assert "(setting max_result_bytes)" in errors_of(response)[0]["message"]
    assert len(api.graphql("{ flow_run(limit: 10) { id } }")["flow_run"]) == 10


def test_like_with_many_percents_is_fast_and_right(api: RunningServer) -> None:
    name = "a" * 24
    run_id = api.create_run(name=name)
    hopeless = "%a" * 12 + "%b"  # 4.2 s as a backtracking regular expression
    matching = "%a" * 12 + "%"
    began = time.monotonic()
    assert not like(name, hopeless)
    assert time.monotonic() - began < 0.1  # microseconds unloaded
    none = api.graphql(f'{{ flow_run(where: {{name: {{_like: "{hopeless}"}}}}) {{ id }} }}')
    some = api.graphql(
        f'{{ flow_run(where: {{name: {{_ilike: "{matching.upper()}"}}}}) {{ id }} }}'
    )
    assert none["flow_run"] == [] and some["flow_run"] == [{"id": run_id}]


def test_like_agrees_with_a_regular_expression() -> None:
    rng = random.Random(15)
    for _ in range(3000):
        value = "".join(rng.choice("ab%_") for _ in range(rng.randint(0, 8)))
        pattern = "".join(rng.choice("ab%_") for _ in range(rng.randint(0, 6)))
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        expected = re.fullmatch(regex, value, re.DOTALL) is not None
        assert like(value, pattern) == expected, (value, pattern)
    assert like("50%", "50\\%") and not like("500", "50\\%")  # PostgreSQL's escape
    assert like("ABC", "a_c", ignore_case=True) and not like("ABC", "a_c")


def test_the_document_cache_is_bounded_and_keeps_no_query_text() -> None:
    limits = QueryLimits(cache_entries=8, cache_max_query_bytes=4096)
    with running_server(query_limits=limits) as api:
        documents = api.server.api.documents
        for i in range(20):
            api.graphql(f"{{ hello a{i}: hello }}")
        assert len(documents) == 8
        padding = " " * 5000
        for i in range(10):
            api.graphql(f"{{ hello{padding}b{i}: hello }}")  # over cache_max_query_bytes
        assert len(documents) == 8
        assert all(isinstance(key, bytes) and len(key) == 32 for key in documents._items)
