"""Injected faults and request counts of the embedded API, seen by the real GraphQL client."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from prefect_agent.adapters.graphql import documents
from prefect_agent.adapters.graphql.client import GraphQLClient
from prefect_agent.adapters.graphql.retry_policy import RetryPolicy
from prefect_agent.adapters.graphql.run_source import GraphQLRunSource
from prefect_agent.domain.errors import ApiError, ApiUnavailable, RateLimited
from prefect_agent.domain.outcomes import Claimed, ClaimLost
from prefect_agent.server.faults import Fault
from prefect_agent.server.testing import RunningServer


def client(
    api: RunningServer, sleeps: list[float] | None = None, **kwargs: object
) -> GraphQLClient:
    record = sleeps.append if sleeps is not None else (lambda _: None)
    kwargs.setdefault("api_key", api.secret_key)
    return GraphQLClient(api.url, retry=RetryPolicy(attempts=3), sleep=record, **kwargs)  # type: ignore[arg-type]


def test_status_faults_are_retried_and_counted(api: RunningServer) -> None:
    api.faults.fail(times=2, status=503)
    assert client(api).execute(documents.HELLO)["hello"]
    assert api.faults.injected == 2
    assert api.stats.snapshot() == {"requests": 1, "fields": {"hello": 1}}


def test_rate_limits_carry_retry_after(api: RunningServer) -> None:
    sleeps: list[float] = []
    api.faults.fail(times=3, status=429, retry_after=4)
    with pytest.raises(RateLimited):
        client(api, sleeps).execute(documents.HELLO)
    assert sleeps == [4.0, 4.0]


def test_malformed_answers(api: RunningServer) -> None:
    api.faults.malformed()
    with pytest.raises(ApiError, match="not JSON"):
        client(api).execute(documents.HELLO)


def test_an_outage_and_the_helpers_that_still_see_through_it(api: RunningServer) -> None:
    api.faults.down()
    with pytest.raises(ApiUnavailable, match=api.url):
        client(api).execute(documents.HELLO)
    assert api.graphql("query { hello }")["hello"]  # the test's own view is unaffected
    api.faults.up()
    assert client(api).execute(documents.HELLO)["hello"]


def test_a_lost_answer_to_a_claim_never_launches_twice(api: RunningServer) -> None:
    run_id = api.create_run(labels=["l"])
    source = GraphQLRunSource(client(api))
    source.register(agent_type="LocalAgent", name="a", labels=["l"], agent_config_id=None)
    (run,) = source.ready_runs(["l"], datetime.now(timezone.utc) + timedelta(seconds=5)).runs
    api.faults.lose_answer()
    (result,) = source.claim([run])
    # Applied once, answer lost, resent and refused as stale, then recognised by its token.
    assert result == Claimed(run_id, run.version + 1)
    assert api.history(run_id) == ["Scheduled", "Submitted"]


def test_a_claim_lost_to_another_agent_stays_lost_after_a_resend(api: RunningServer) -> None:
    run_id = api.create_run(labels=["o"])
    mine, theirs = GraphQLRunSource(client(api)), GraphQLRunSource(client(api))
    for name, source in (("mine", mine), ("theirs", theirs)):
        source.register(agent_type="LocalAgent", name=name, labels=["o"], agent_config_id=None)
    before = datetime.now(timezone.utc) + timedelta(seconds=5)
    (run,) = mine.ready_runs(["o"], before).runs
    assert isinstance(theirs.claim(list(theirs.ready_runs(["o"], before).runs))[0], Claimed)
    api.faults.fail(times=1, status=503)  # forces a resend of our claim
    (result,) = mine.claim([run])
    assert isinstance(result, ClaimLost)
    assert api.history(run_id) == ["Scheduled", "Submitted"]


def test_a_lost_answer_to_logs_is_not_resent(api: RunningServer) -> None:
    run_id = api.create_run(labels=[])
    api.faults.lose_answer()
    with pytest.raises(ApiUnavailable):
        client(api).execute(
            documents.WRITE_RUN_LOGS, {"input": {"logs": [{"flow_run_id": run_id, "message": "x"}]}}
        )
    assert [log["message"] for log in api.logs(run_id)] == ["x"]


def test_delays_and_random_failures(api: RunningServer) -> None:
    api.faults.delay(1.0)
    with pytest.raises(ApiUnavailable, match="did not answer"):
        client(api, timeout=0.1).execute(documents.WRITE_RUN_LOGS, {"input": {"logs": []}})
    api.faults.random_failures(1.0, fault=Fault("reset"))
    with pytest.raises(ApiUnavailable):
        client(api).execute(documents.HELLO)
    api.faults.random_failures(0.0)
    assert client(api).execute(documents.HELLO)["hello"]
    with pytest.raises(ValueError, match="between 0 and 1"):
        api.faults.random_failures(2)


def test_stats_over_http(api: RunningServer) -> None:
    client(api).execute(documents.HELLO)
    client(api).execute(documents.TENANT)
    stats = requests.get(api.url + "/api/stats", headers=api.auth_headers, timeout=5).json()
    assert stats == {"requests": 2, "fields": {"hello": 1, "tenant": 1}}
