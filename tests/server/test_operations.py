"""Every operation of the embedded API, over real HTTP."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from prefect_agent.server.testing import ApiRequestFailed, RunningServer
from tests.server.conftest import codes_of, post

QUEUE = (
    "mutation($input: get_runs_in_queue_input!) { get_runs_in_queue(input: $input) "
    "{ flow_run_ids } }"
)
SET_STATES = (
    "mutation($input: set_flow_run_states_input!) { set_flow_run_states(input: $input) "
    "{ states { id status message } } }"
)
SET_TASK_STATES = (
    "mutation($input: set_task_run_states_input!) { set_task_run_states(input: $input) "
    "{ states { id status } } }"
)
WRITE_LOGS = "mutation($input: write_run_logs_input!) { write_run_logs(input: $input) { success } }"


def now() -> datetime:
    return datetime.now(timezone.utc)


def queue(api: RunningServer, labels: list[str], ahead: float = 10, **extra: object) -> list[str]:
    data = api.graphql(
        QUEUE,
        {
            "input": {
                "tenant_id": api.tenant_id,
                "labels": labels,
                "before": (now() + timedelta(seconds=ahead)).isoformat(),
                **extra,
            }
        },
    )
    return list(data["get_runs_in_queue"]["flow_run_ids"])


def scheduled(start: datetime, type_name: str = "Scheduled") -> dict[str, object]:
    return {"type": type_name, "start_time": start.isoformat(), "message": "again"}


def test_hello_and_tenants(api: RunningServer) -> None:
    assert api.graphql("query { hello }")["hello"]
    tenants = api.graphql("query { tenant { id name slug } }")["tenant"]
    assert [t["id"] for t in tenants] == [api.tenant_id]
    created = api.graphql(
        'mutation { create_tenant(input: {name: "Other", slug: "other"}) { id } }'
    )["create_tenant"]["id"]
    assert {t["id"] for t in api.graphql("query { tenant { id } }")["tenant"]} == {
        api.tenant_id,
        created,
    }
    with pytest.raises(ApiRequestFailed, match="already exists"):
        api.graphql('mutation { create_tenant(input: {name: "Again", slug: "other"}) { id } }')
    assert api.graphql("query { auth_info { tenant_id } }")["auth_info"]["tenant_id"] == (
        api.tenant_id
    )


def test_register_agent_reuses_an_identical_agent(api: RunningServer) -> None:
    doc = "mutation($input: register_agent_input!) { register_agent(input: $input) { id } }"
    agent = {"type": "LocalAgent", "name": "a", "labels": ["b", "a"], "tenant_id": api.tenant_id}
    first = api.graphql(doc, {"input": agent})["register_agent"]["id"]
    again = api.graphql(doc, {"input": {**agent, "labels": ["a", "b"]}})["register_agent"]["id"]
    other = api.graphql(doc, {"input": {**agent, "name": "b"}})["register_agent"]["id"]
    assert first == again != other
    rows = api.graphql("query { agent { id name type labels last_queried } }")["agent"]
    assert {r["id"]: r["labels"] for r in rows}[first] == ["a", "b"]
    with pytest.raises(ApiRequestFailed, match="no agent config"):
        api.graphql(
            doc,
            {"input": {**agent, "agent_config_id": "00000000-0000-0000-0000-000000000000"}},
        )


def test_agent_configs_are_created_and_queried(api: RunningServer) -> None:
    config_id = api.graphql(
        "mutation($input: create_agent_config_input!) { create_agent_config(input: $input) "
        "{ id } }",
        {"input": {"tenant_id": api.tenant_id, "name": "c", "settings": {"k": [1, 2]}}},
    )["create_agent_config"]["id"]
    found = api.graphql(
        "query($id: uuid!) { agent_config(where: {id: {_eq: $id}}) { id name settings } }",
        {"id": config_id},
    )["agent_config"]
    assert found == [{"id": config_id, "name": "c", "settings": {"k": [1, 2]}}]


def test_queue_applies_the_label_rule(api: RunningServer) -> None:
    only_a = api.create_run(labels=["a"])
    both = api.create_run(labels=["a", "b"])
    unlabeled = api.create_run(labels=[])
    needs_c = api.create_run(labels=["c"])
    assert set(queue(api, ["a", "b"])) == {only_a, both}
    assert set(queue(api, [])) == {unlabeled}
    assert set(queue(api, ["c", "a", "b"])) == {only_a, both, needs_c}


def test_queue_honours_before_and_orders_by_start_time(api: RunningServer) -> None:
    later = api.create_run(labels=["w"], start_time=now() + timedelta(seconds=60))
    soon = api.create_run(labels=["w"], start_time=now() + timedelta(seconds=5))
    past = api.create_run(labels=["w"], start_time=now() - timedelta(seconds=60))
    assert queue(api, ["w"], ahead=10) == [past, soon]
    assert queue(api, ["w"], ahead=120) == [past, soon, later]


def test_queue_takes_the_scheduled_family_and_running_runs_with_due_task_runs(
    api: RunningServer,
) -> None:
    ids = {name: api.create_run(labels=["q"]) for name in ("Paused", "Retrying", "Queued")}
    for name, run_id in ids.items():
        api.set_state(run_id, scheduled(now() - timedelta(seconds=1), name))
    submitted = api.create_run(labels=["q"])
    api.set_state(submitted, "Submitted")
    retrying = api.create_run(labels=["q"])
    api.set_state(retrying, "Running")
    task = api.graphql(
        "mutation($input: get_or_create_task_run_input!) { get_or_create_task_run(input: $input)"
        " { id } }",
        {"input": {"flow_run_id": retrying, "task_id": "11111111-1111-1111-1111-111111111111"}},
    )["get_or_create_task_run"]["id"]
    assert retrying not in queue(api, ["q"])
    api.graphql(
        SET_TASK_STATES,
        {"input": {"states": [{"task_run_id": task, "state": scheduled(now(), "Retrying")}]}},
    )
    assert set(queue(api, ["q"])) == {*ids.values(), retrying}


def test_queue_limits_are_configurable(api: RunningServer) -> None:
    from prefect_agent.domain.queue_limits import QueueLimits

    early_other = [
        api.create_run(labels=["other"], start_time=now() - timedelta(minutes=10)) for _ in range(4)
    ]
    mine = [api.create_run(labels=["mine"]) for _ in range(3)]
    api.server.api.limits = QueueLimits(scan=4, returned=2)
    assert queue(api, ["mine"]) == []  # starved: the scan saw only the other label's runs
    assert len(queue(api, ["other"])) == 2
    api.server.api.limits = QueueLimits(scan=10, returned=10)
    assert set(queue(api, ["mine"])) == set(mine)
    assert len(early_other) == 4


def test_default_limits_take_a_burst_of_a_thousand_in_one_poll() -> None:
    from prefect_agent.domain.queue_limits import QueueLimits

    limits = QueueLimits()
    assert limits.returned >= 1000
    assert QueueLimits.prefect_server() == QueueLimits(scan=75, returned=25)
    with pytest.raises(ValueError, match="cannot exceed"):
        QueueLimits(scan=10, returned=11)


def test_polling_with_the_agent_header_updates_last_queried(api: RunningServer) -> None:
    agent_id = api.graphql(
        'mutation { register_agent(input: {type: "LocalAgent", name: "h"}) { id } }'
    )["register_agent"]["id"]
    before = api.graphql("query { agent { last_queried } }")["agent"][0]["last_queried"]
    response = post(
        api,
        {"query": QUEUE, "variables": {"input": {"tenant_id": api.tenant_id}}},
        headers={"X-PREFECT-AGENT-ID": agent_id},
    )
    assert response.status_code == 200, response.text
    after = api.graphql("query { agent { last_queried } }")["agent"][0]["last_queried"]
    assert before is None and after is not None


def test_queue_with_an_unknown_tenant_is_an_error(api: RunningServer) -> None:
    response = post(
        api,
        {
            "query": QUEUE,
            "variables": {"input": {"tenant_id": "00000000-0000-0000-0000-000000000000"}},
        },
    )
    assert codes_of(response) == {"NOT_FOUND"}


def test_flow_run_queries_filter_like_hasura(api: RunningServer) -> None:
    storage = {"type": "Local", "path": "/flows/x.py"}
    flow_id = api.create_flow("etl", storage=storage, run_config={"type": "LocalRun"})
    run_id = api.create_run(flow_id=flow_id, labels=["z"])
    other = api.create_run(labels=["z"])
    api.set_state(other, "Running")
    # What a flow process reads (spec 13, last row).
    data = api.graphql(
        'query { flow_run(where: {id: {_eq: "' + run_id + '"}}) '
        "{ flow { name storage run_config } version } }"
    )
    assert data["flow_run"] == [
        {
            "flow": {"name": "etl", "storage": storage, "run_config": {"type": "LocalRun"}},
            "version": 1,
        }
    ]
    buffer = (now() - timedelta(seconds=3)).isoformat()
    found = api.graphql(
        "query($ids: [uuid!], $t: timestamptz) { flow_run(where: {id: {_in: $ids}, _or: ["
        '{state: {_eq: "Scheduled"}}, {state: {_eq: "Running"}, task_runs: '
        "{state_start_time: {_lte: $t}}}]}) { id } }",
        {"ids": [run_id, other], "t": buffer},
    )["flow_run"]
    assert [r["id"] for r in found] == [run_id]
    by_pk = api.graphql('query { flow_run_by_pk(id: "' + run_id + '") { serialized_state } }')
    assert by_pk["flow_run_by_pk"]["serialized_state"]["type"] == "Scheduled"
    missing = api.graphql(
        'query { flow_run_by_pk(id: "%s") { id } }' % ("0" * 8 + "-0000-0000-0000-" + "0" * 12)
    )
    assert missing["flow_run_by_pk"] is None
    listed = api.graphql(
        'query { flow_run(where: {labels: {_contains: ["z"]}}, order_by: {created: desc}, '
        "limit: 1) { id } }"
    )["flow_run"]
    assert [r["id"] for r in listed] == [other]


def test_set_flow_run_states_enforces_version_locking(api: RunningServer) -> None:
    run_id = api.create_run(labels=[])
    state = {"type": "Submitted", "message": "Submitted for execution"}
    ok = api.graphql(
        SET_STATES, {"input": {"states": [{"flow_run_id": run_id, "version": 1, "state": state}]}}
    )
    assert ok["set_flow_run_states"]["states"] == [
        {"id": run_id, "status": "SUCCESS", "message": None}
    ]
    stale = post(
        api,
        {
            "query": SET_STATES,
            "variables": {
                "input": {
                    "states": [{"flow_run_id": run_id, "version": 1, "state": {"type": "Failed"}}]
                }
            },
        },
    )
    assert codes_of(stale) == {"VERSION_LOCKING_ERROR"}
    assert "provided version 1 but current version is 2" in stale.json()["errors"][0]["message"]
    assert api.run(run_id)["state"] == "Submitted"
    api.set_state(run_id, "Running")  # no version: accepted, as Prefect clients may send
    assert api.history(run_id) == ["Scheduled", "Submitted", "Running"]
    assert api.run(run_id)["version"] == 3


def test_a_batch_of_states_is_applied_whole_or_not_at_all(api: RunningServer) -> None:
    good, bad = api.create_run(labels=[]), api.create_run(labels=[])
    api.set_state(bad, "Running")
    response = post(
        api,
        {
            "query": SET_STATES,
            "variables": {
                "input": {
                    "states": [
                        {"flow_run_id": good, "version": 1, "state": {"type": "Submitted"}},
                        {"flow_run_id": bad, "version": 1, "state": {"type": "Submitted"}},
                    ]
                }
            },
        },
    )
    assert codes_of(response) == {"VERSION_LOCKING_ERROR"}
    assert api.run(good)["state"] == "Scheduled"


def test_aliased_claims_succeed_or_fail_one_by_one(api: RunningServer) -> None:
    first, second = api.create_run(labels=[]), api.create_run(labels=[])
    api.set_state(second, "Running")
    response = post(
        api,
        {
            "query": "mutation($a: set_flow_run_states_input!, $b: set_flow_run_states_input!) {"
            " a: set_flow_run_states(input: $a) { states { id } }"
            " b: set_flow_run_states(input: $b) { states { id } } }",
            "variables": {
                "a": {
                    "states": [{"flow_run_id": first, "version": 1, "state": {"type": "Submitted"}}]
                },
                "b": {
                    "states": [
                        {"flow_run_id": second, "version": 1, "state": {"type": "Submitted"}}
                    ]
                },
            },
        },
    )
    body = response.json()
    assert body["data"]["a"] == {"states": [{"id": first}]}
    assert body["data"]["b"] is None
    assert [e["path"] for e in body["errors"]] == [["b"]]
    assert api.run(first)["state"] == "Submitted"


def test_submitted_records_the_agent(api: RunningServer) -> None:
    agent_id = api.graphql(
        'mutation { register_agent(input: {type: "LocalAgent", name: "s"}) { id } }'
    )["register_agent"]["id"]
    run_id = api.create_run(labels=[])
    post(
        api,
        {
            "query": SET_STATES,
            "variables": {
                "input": {
                    "states": [
                        {"flow_run_id": run_id, "version": 1, "state": {"type": "Submitted"}}
                    ]
                }
            },
        },
        headers={"X-PREFECT-AGENT-ID": agent_id},
    )
    assert api.run(run_id)["agent_id"] == agent_id


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ({"message": "no type"}, "string 'type'"),
        ("Running", "must be a JSON object"),
        ({"type": "Scheduled", "start_time": "not a time"}, "not an ISO 8601 timestamp"),
        ({"type": "Failed", "message": "x" * 1_100_000}, "exceeds"),
    ],
)
def test_bad_states_are_refused(api: RunningServer, state: object, problem: str) -> None:
    run_id = api.create_run(labels=[])
    response = post(
        api,
        {
            "query": SET_STATES,
            "variables": {"input": {"states": [{"flow_run_id": run_id, "state": state}]}},
        },
    )
    assert problem in response.json()["errors"][0]["message"]
    assert api.run(run_id)["version"] == 1


def test_unknown_runs_are_not_found(api: RunningServer) -> None:
    ghost = "00000000-0000-0000-0000-00000000abcd"
    response = post(
        api,
        {
            "query": SET_STATES,
            "variables": {
                "input": {"states": [{"flow_run_id": ghost, "state": {"type": "Failed"}}]}
            },
        },
    )
    assert codes_of(response) == {"NOT_FOUND"}
    assert ghost in response.json()["errors"][0]["message"]
    response = post(
        api,
        {
            "query": SET_TASK_STATES,
            "variables": {
                "input": {"states": [{"task_run_id": ghost, "state": {"type": "Failed"}}]}
            },
        },
    )
    assert codes_of(response) == {"NOT_FOUND"}


def test_task_run_states_are_version_locked(api: RunningServer) -> None:
    run_id = api.create_run(labels=[])
    api.set_state(run_id, "Running")  # a task run may only run within a running flow run
    task = api.graphql(
        "mutation($input: get_or_create_task_run_input!) { get_or_create_task_run(input: $input)"
        " { id } }",
        {"input": {"flow_run_id": run_id, "task_id": "22222222-2222-2222-2222-222222222222"}},
    )["get_or_create_task_run"]["id"]
    api.graphql(
        SET_TASK_STATES,
        {"input": {"states": [{"task_run_id": task, "version": 0, "state": {"type": "Running"}}]}},
    )
    stale = post(
        api,
        {
            "query": SET_TASK_STATES,
            "variables": {
                "input": {
                    "states": [{"task_run_id": task, "version": 0, "state": {"type": "Success"}}]
                }
            },
        },
    )
    assert codes_of(stale) == {"VERSION_LOCKING_ERROR"}


def test_write_run_logs(api: RunningServer) -> None:
    run_id = api.create_run(labels=[])
    stamp = "2024-01-01T12:00:00+00:00"
    data = api.graphql(
        WRITE_LOGS,
        {
            "input": {
                "logs": [
                    {"flow_run_id": run_id, "message": "hello", "name": "agent"},
                    {
                        "flow_run_id": run_id,
                        "message": "boom",
                        "level": "ERROR",
                        "timestamp": stamp,
                    },
                ]
            }
        },
    )
    assert data["write_run_logs"]["success"] is True
    logs = api.logs(run_id)
    assert [(log["level"], log["message"]) for log in logs] == [
        ("ERROR", "boom"),
        ("INFO", "hello"),
    ]
    assert logs[0]["timestamp"] == "2024-01-01T12:00:00.000000+00:00"


def test_logs_for_an_unknown_run_refuse_the_batch(api: RunningServer) -> None:
    run_id = api.create_run(labels=[])
    ghost = "00000000-0000-0000-0000-00000000beef"
    response = post(
        api,
        {
            "query": WRITE_LOGS,
            "variables": {
                "input": {
                    "logs": [
                        {"flow_run_id": run_id, "message": "kept?"},
                        {"flow_run_id": ghost, "message": "lost"},
                    ]
                }
            },
        },
    )
    assert codes_of(response) == {"NOT_FOUND"}
    assert api.logs(run_id) == []
    bad_level = post(
        api,
        {
            "query": WRITE_LOGS,
            "variables": {
                "input": {"logs": [{"flow_run_id": run_id, "message": "x", "level": "LOUD"}]}
            },
        },
    )
    assert bad_level.status_code == 400


def test_create_flow_run_fixes_labels_as_prefect_server_does(api: RunningServer) -> None:
    flow_id = api.create_flow("f", run_config={"type": "LocalRun", "labels": ["from-flow"]})
    explicit = api.create_run(flow_id=flow_id, labels=["b", "a", "a"])
    from_config = api.create_run(
        flow_id=flow_id, labels=None, run_config={"type": "LocalRun", "labels": ["rc"]}
    )
    from_flow = api.create_run(flow_id=flow_id, labels=None)
    assert api.run(explicit)["labels"] == ["a", "b"]
    assert api.run(from_config)["labels"] == ["rc"]
    assert api.run(from_flow)["labels"] == ["from-flow"]
    assert api.run(from_flow)["run_config"] == {"type": "LocalRun", "labels": ["from-flow"]}


def test_create_flow_run_takes_parameters_start_time_name_and_idempotency(
    api: RunningServer,
) -> None:
    flow_id = api.create_flow("g")
    doc = "mutation($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }"
    start = "2030-01-01T00:00:00Z"
    run_input = {
        "flow_id": flow_id,
        "parameters": {"x": 1},
        "scheduled_start_time": start,
        "flow_run_name": "nightly",
        "idempotency_key": "k1",
    }
    first = api.graphql(doc, {"input": run_input})["create_flow_run"]["id"]
    again = api.graphql(doc, {"input": run_input})["create_flow_run"]["id"]
    assert first == again
    row = api.graphql(
        'query { flow_run_by_pk(id: "' + first + '") { name parameters scheduled_start_time '
        "serialized_state } }"
    )["flow_run_by_pk"]
    assert row["name"] == "nightly"
    assert row["parameters"] == {"x": 1}
    assert row["scheduled_start_time"] == "2030-01-01T00:00:00.000000+00:00"
    assert row["serialized_state"]["start_time"] == row["scheduled_start_time"]
    with pytest.raises(ApiRequestFailed, match="no flow with id"):
        api.graphql(doc, {"input": {"flow_id": "00000000-0000-0000-0000-000000000001"}})
    with pytest.raises(ApiRequestFailed, match="one of flow_id or version_group_id is required"):
        api.graphql(doc, {"input": {}})


def test_requests_as_prefect_1_sends_them(api: RunningServer) -> None:
    run_id = api.create_run(labels=["p"])
    # variables as a JSON-encoded string, and "null" when there are none
    as_string = post(
        api,
        {
            "query": QUEUE,
            "variables": json.dumps(
                {
                    "input": {
                        "tenant_id": api.tenant_id,
                        "labels": ["p"],
                        "before": now().isoformat(),
                    }
                }
            ),
        },
    )
    assert as_string.json()["data"]["get_runs_in_queue"]["flow_run_ids"] == [run_id]
    null = post(api, {"query": "query {\n    tenant {\n        id\n    }\n}", "variables": "null"})
    assert null.json()["data"]["tenant"] == [{"id": api.tenant_id}]
    # inline literals, including a JSON object literal for the state
    inline = post(
        api,
        {
            "query": "mutation { set_flow_run_states(input: {states: [{flow_run_id: "
            f'"{run_id}", version: 1, '
            'state: {type: "Submitted", message: "m", context: {}}}]})'
            " { states { id status } } }"
        },
    )
    assert inline.json()["data"]["set_flow_run_states"]["states"][0]["status"] == "SUCCESS"
    assert api.run(run_id)["serialized_state"] == {
        "type": "Submitted",
        "message": "m",
        "context": {},
    }


def test_heartbeats_and_cancellation(api: RunningServer) -> None:
    run_id = api.create_run(labels=[])
    api.graphql(
        "mutation($input: update_flow_run_heartbeat_input!) {"
        " update_flow_run_heartbeat(input: $input) { success } }",
        {"input": {"flow_run_id": run_id}},
    )
    assert api.store.row("flow_run", run_id)["heartbeat"] is not None
    cancel = "mutation($input: cancel_flow_run_input!) { cancel_flow_run(input: $input) { state } }"
    assert api.graphql(cancel, {"input": {"flow_run_id": run_id}}) == {
        "cancel_flow_run": {"state": "Cancelled"}
    }
    done = api.create_run(labels=[])
    api.set_state(done, "Success")
    assert api.graphql(cancel, {"input": {"flow_run_id": done}})["cancel_flow_run"] == {
        "state": "Success"
    }
    ghost = {"input": {"flow_run_id": "00000000-0000-0000-0000-000000000009"}}
    assert codes_of(post(api, {"query": cancel, "variables": ghost})) == {"NOT_FOUND"}


def test_create_runs_makes_a_burst_in_a_few_requests(api: RunningServer) -> None:
    ids = api.create_runs(600, labels=["burst"], run_config={"type": "LocalRun"})
    assert len(set(ids)) == 600
    assert len(queue(api, ["burst"])) == 600


def test_filters_on_plain_columns_combine_with_the_rest(api: RunningServer) -> None:
    flow_id = api.create_flow("combo")
    runs = [api.create_run(flow_id=flow_id, labels=[label]) for label in ("a", "b", "c")]
    api.set_state(runs[2], "Running")
    found = api.graphql(
        "query($flow: uuid!) { flow_run(where: {flow_id: {_eq: $flow}, state: {_in: "
        '["Scheduled", "Running"]}, _not: {labels: {_contains: ["a"]}}}, order_by: {name: asc})'
        " { id } }",
        {"flow": flow_id},
    )["flow_run"]
    assert {r["id"] for r in found} == {runs[1], runs[2]}
    none = api.graphql('query { flow_run(where: {state: {_eq: "Nope"}}) { id } }')["flow_run"]
    assert none == []
