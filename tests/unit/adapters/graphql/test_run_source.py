"""GraphQLRunSource beyond the shared contract: start-up, bad rows, retries, batching."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from prefect_agent.adapters.graphql.client import GraphQLClient
from prefect_agent.adapters.graphql.retry_policy import RetryPolicy
from prefect_agent.adapters.graphql.run_source import GraphQLRunSource
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import ApiError, ApiUnavailable, ConfigError
from prefect_agent.domain.outcomes import Claimed, ClaimLost, RunLog
from prefect_agent.server.testing import RunningServer, running_server
from tests.network import free_port


class RequestCounter:
    """Counts the documents the server receives, by wrapping its request handler."""

    def __init__(self, api: RunningServer) -> None:
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        inner = api.server.api.handle

        def handle(body: bytes, headers: Any) -> Any:
            self.bodies.append(body)
            self.headers.append(dict(headers))
            return inner(body, headers)

        api.server.api.handle = handle  # type: ignore[method-assign]


def source_for(api: RunningServer, *, keyed: bool = True, **kwargs: Any) -> GraphQLRunSource:
    key = api.secret_key if keyed else None
    client = GraphQLClient(api.url, api_key=key, retry=RetryPolicy(attempts=2))
    return GraphQLRunSource(client, **kwargs)


def register(source: GraphQLRunSource, labels: list[str], name: str = "agent") -> str:
    return source.register(agent_type="LocalAgent", name=name, labels=labels, agent_config_id=None)


def soon() -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=10)


def test_from_config_and_server_start_up(api: RunningServer) -> None:
    source = GraphQLRunSource.from_config(
        AgentConfig(api=api.url, api_key=api.secret_key, labels=["a"])
    )
    counter = RequestCounter(api)
    agent_id = register(source, ["a"])
    assert source.tenant_id == api.tenant_id
    queries = [body.decode() for body in counter.bodies]
    assert "tenant" in queries[0] and "register_agent" in queries[1] and "hello" in queries[2]
    assert counter.headers[2]["X-PREFECT-AGENT-ID"] == agent_id
    source.ready_runs(["a"], soon())
    agents = api.graphql("query { agent { id last_queried } }")["agent"]
    assert agents == [{"id": agent_id, "last_queried": agents[0]["last_queried"]}]
    assert agents[0]["last_queried"] is not None


def test_a_configured_tenant_skips_discovery(api: RunningServer) -> None:
    counter = RequestCounter(api)
    source = source_for(api, tenant_id=api.tenant_id)
    register(source, [])
    assert "tenant" not in counter.bodies[0].decode().split("register_agent")[0]


def test_an_api_without_tenants_says_how_to_make_one() -> None:
    with (
        running_server(create_tenant=False) as api,
        pytest.raises(ApiError, match="prefect server create-tenant"),
    ):
        register(source_for(api), [])


def test_cloud_needs_a_key_then_uses_auth_info(api: RunningServer) -> None:
    with pytest.raises(ConfigError, match="API key"):
        register(source_for(api, keyed=False, backend="cloud"), [])
    keyed = GraphQLRunSource(GraphQLClient(api.url, api_key=api.secret_key), backend="cloud")
    register(keyed, [])
    assert keyed.tenant_id == api.tenant_id


def test_an_unreachable_api_raises_api_unavailable_with_its_address() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    source = GraphQLRunSource(GraphQLClient(url, retry=RetryPolicy.never()))
    with pytest.raises(ApiUnavailable, match=url):
        register(source, [])


def test_agent_config_settings(api: RunningServer) -> None:
    config_id = api.store.create_agent_config(api.tenant_id, "c", {"limit": 3})
    source = source_for(api)
    source.register(agent_type="LocalAgent", name="a", labels=[], agent_config_id=config_id)
    assert source.agent_config_settings(config_id) == {"limit": 3}
    with pytest.raises(ApiError, match="No agent config"):
        source.agent_config_settings("00000000-0000-0000-0000-000000000000")


def test_unreadable_rows_fail_alone(api: RunningServer) -> None:
    good = api.create_run(labels=["u"], run_config={"type": "LocalRun"})
    ecs = api.create_run(
        labels=["u"],
        run_config={"type": "ECSRun", "task_definition_arn": "f:1", "task_definition_path": "x"},
    )
    broken = api.create_run(labels=["u"], run_config={"type": "DockerRun", "ports": ["x"]})
    source = source_for(api)
    register(source, ["u"])
    ready = source.ready_runs(["u"], soon())
    assert [run.id for run in ready.runs] == [good]
    reasons = {bad.run_id: bad.reason for bad in ready.unreadable}
    assert set(reasons) == {ecs, broken}
    assert "ECSRun" in reasons[ecs]
    assert "ports" in reasons[broken]
    assert all(bad.version == 1 for bad in ready.unreadable)


def running_with_a_retry(api: RunningServer, label: str, seconds_ago: float) -> tuple[str, str]:
    """A Running flow run whose task run is Retrying since ``seconds_ago``: (run, task run)."""
    run_id = api.create_run(labels=[label])
    api.set_state(run_id, "Running")
    task_id = api.store.get_or_create_task_run(run_id, "33333333-3333-3333-3333-333333333333", -1)
    due = (datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)).isoformat()
    api.store.set_task_run_states(
        [{"task_run_id": task_id, "state": {"type": "Retrying", "start_time": due}}]
    )
    return run_id, task_id


def test_a_running_run_with_a_due_task_retry_is_claimed_through_its_task_run(
    api: RunningServer,
) -> None:
    run_id, task_id = running_with_a_retry(api, "t", seconds_ago=30)
    source = source_for(api)
    register(source, ["t"])
    (run,) = source.ready_runs(["t"], soon()).runs
    assert run.is_retry and [t.id for t in run.task_runs_due] == [task_id]
    (result,) = source.claim([run])
    assert result == Claimed(run_id, run.version)
    assert api.store.row("task_run", task_id)["state"] == "Submitted"
    assert api.state_of(run_id) == "Running"
    (again,) = source.claim([run])
    assert isinstance(again, ClaimLost)


def test_a_task_retry_not_yet_past_the_buffer_is_left_to_the_flow_process(
    api: RunningServer,
) -> None:
    running_with_a_retry(api, "b", seconds_ago=0)
    source = source_for(api)
    register(source, ["b"])
    assert source.ready_runs(["b"], soon()).runs == ()


def test_claims_and_logs_are_one_request_each(api: RunningServer) -> None:
    ids = {api.create_run(labels=["n"]) for _ in range(30)}
    source = source_for(api)
    register(source, ["n"])
    runs = source.ready_runs(["n"], soon()).runs
    counter = RequestCounter(api)
    results = source.claim(runs)
    source.write_logs([RunLog(run_id=run.id, message="Submitted for execution") for run in runs])
    assert len(counter.bodies) == 2
    assert {r.run_id for r in results if isinstance(r, Claimed)} == ids
    assert all(api.store.row("flow_run", i)["agent_id"] == source.agent_id for i in ids)


def test_a_claim_batch_reports_each_run(api: RunningServer) -> None:
    kept, moved = api.create_run(labels=["m"]), api.create_run(labels=["m"])
    source = source_for(api)
    register(source, ["m"])
    runs = source.ready_runs(["m"], soon()).runs
    api.set_state(moved, "Cancelled")
    results = {r.run_id: r for r in source.claim(runs)}
    assert isinstance(results[kept], Claimed)
    assert isinstance(results[moved], ClaimLost)
    assert "current version is 2" in results[moved].reason


def test_mark_failed_and_logs_with_timestamps(api: RunningServer) -> None:
    run_id = api.create_run(labels=[])
    source = source_for(api)
    register(source, [])
    stamp = datetime(2024, 5, 1, tzinfo=timezone.utc)
    source.write_logs(
        [
            RunLog(run_id=run_id, message="m", level="warning", timestamp=stamp),
            RunLog(run_id=run_id, message="w", level="WARN"),
            RunLog(run_id=run_id, message="odd", level="NOTICE"),
        ]
    )
    levels = {log["message"]: log["level"] for log in api.logs(run_id)}
    assert levels == {"m": "WARNING", "w": "WARNING", "odd": "INFO"}
    assert api.logs(run_id)[0]["timestamp"].startswith("2024-05-01T00:00:00")
    source.mark_failed(run_id, "exit code 3", None)
    assert api.run(run_id)["serialized_state"]["message"] == "exit code 3"
    with pytest.raises(ApiError, match="No flow run"):
        source.run_status("00000000-0000-0000-0000-000000000000")


def test_a_claim_whose_answer_and_read_back_both_fail_is_recognised_on_the_next_claim(
    api: RunningServer,
) -> None:
    run_id = api.create_run(labels=["u"])
    source = source_for(api)
    register(source, ["u"])
    runs = source.ready_runs(["u"], soon()).runs
    api.faults.lose_answer()  # the claim is applied, its answer never arrives: re-sent
    api.faults.delay(0)  # the re-send is answered: refused as stale (we wrote it)
    api.faults.malformed()  # the read-back that would tell gets garbage
    with pytest.raises(ApiError):
        source.claim(runs)
    assert api.state_of(run_id) == "Submitted"
    (again,) = source.claim(runs)  # the deployer's later attempt at the same claim
    assert isinstance(again, Claimed)
    assert again.version == runs[0].version + 1


def test_a_claim_garbled_before_the_api_leaves_the_runs_for_the_next_poll(
    api: RunningServer,
) -> None:
    ids = {api.create_run(labels=["g"]), api.create_run(labels=["g"])}
    source = source_for(api)
    register(source, ["g"])
    runs = source.ready_runs(["g"], soon()).runs
    api.faults.malformed()  # nothing applied, and the answer says nothing usable
    results = source.claim(runs)  # read back at once: not ours, still Scheduled
    assert all(isinstance(r, ClaimLost) for r in results)
    assert {run.id for run in source.ready_runs(["g"], soon()).runs} == ids


def test_runs_the_agent_holds_are_not_read_again(api: RunningServer) -> None:
    source = source_for(api)
    register(source, ["k"])
    held = [api.create_run(labels=["k"]) for _ in range(3)]
    counter = RequestCounter(api)
    assert source.ready_runs(["k"], soon(), known=set(held)).runs == ()
    # Only the id query: no metadata read for runs that are all held already.
    assert len(counter.bodies) == 1 and b"get_runs_in_queue" in counter.bodies[0]
    other = api.create_run(labels=["k"])
    (run,) = source.ready_runs(["k"], soon(), known=set(held)).runs
    assert run.id == other
    assert all(run_id.encode() not in counter.bodies[-1] for run_id in held)


def test_a_status_says_why_a_run_config_cannot_be_read(api: RunningServer) -> None:
    source = source_for(api)
    register(source, ["k"])
    run_id = api.create_run(labels=["k"], run_config={"type": "NopeRun"})
    details = source.run_status(run_id).details
    assert details is not None and details.run_config is None
    reason = details.run_config_error
    assert isinstance(reason, str) and "NopeRun" in reason and "cannot run" in reason


def test_a_status_names_the_flow_storage_type(api: RunningServer) -> None:
    source = source_for(api)
    register(source, ["k"])
    run_id = api.create_run(
        labels=["k"], storage={"type": "Docker", "image_name": "flows", "image_tag": "1"}
    )
    details = source.run_status(run_id).details
    assert details is not None and details.storage_type == "Docker"
