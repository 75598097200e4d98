"""Every document the adapter sends validates against the schema of the API half it targets."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from prefect_agent.adapters.graphql import documents
from prefect_agent.adapters.graphql.run_admin import (
    CANCEL_RUN,
    CREATE_FLOW,
    CREATE_FLOW_RUN,
    FIND_FLOW,
    LIST_RUNS,
    SHOW_RUN,
)
from prefect_agent.server.api import schema_sdl

REFERENCE_SCHEMA = Path("/work/shared/reference/prefect_server_schema.graphql")

PYTHON_HALF = [
    documents.HELLO,
    documents.REGISTER_AGENT,
    documents.GET_RUNS_IN_QUEUE,
    documents.SET_FLOW_RUN_STATES,
    documents.WRITE_RUN_LOGS,
    documents.claims([0, 1, 3], [(2, 0), (2, 1)]),
    documents.claims([0], []),
    documents.claims([], [(0, 0)]),
    CREATE_FLOW,
    CREATE_FLOW_RUN,
    CANCEL_RUN,
]
HASURA_HALF = [
    documents.TENANT,
    documents.AGENT_CONFIG,
    documents.FLOW_RUN_METADATA,
    documents.CLAIM_CHECK,
    documents.CANCELLED_AMONG,
    documents.CLAIMED_RUNS,
    documents.RUN_STATUS,
    FIND_FLOW,
    LIST_RUNS,
    SHOW_RUN,
]
CLOUD_ONLY = [documents.AUTH_INFO]


@pytest.fixture(scope="module")
def reference() -> GraphQLSchema:
    if not REFERENCE_SCHEMA.exists():
        pytest.skip(f"the reference schema {REFERENCE_SCHEMA} is not on this machine")
    return build_schema(REFERENCE_SCHEMA.read_text())


@pytest.fixture(scope="module")
def embedded() -> GraphQLSchema:
    return build_schema(schema_sdl())


def problems(schema: GraphQLSchema, text: str) -> list[str]:
    return [error.message for error in validate(schema, parse(text))]


@pytest.mark.parametrize("operation", PYTHON_HALF, ids=lambda op: op.name)
def test_python_half_validates_against_prefect_server(
    reference: GraphQLSchema, embedded: GraphQLSchema, operation: documents.Operation
) -> None:
    assert problems(reference, operation.text) == []
    assert problems(embedded, operation.text) == []


@pytest.mark.parametrize("operation", HASURA_HALF + CLOUD_ONLY, ids=lambda op: op.name)
def test_hasura_half_validates_against_the_embedded_api(
    embedded: GraphQLSchema, operation: documents.Operation
) -> None:
    assert problems(embedded, operation.text) == []


def test_the_validation_catches_a_wrong_document(reference: GraphQLSchema) -> None:
    wrong = (
        "mutation($input: get_runs_in_queue_input!) { get_runs_in_queue(input: $input) { ids } }"
    )
    assert problems(reference, wrong)


def test_every_document_is_listed_here() -> None:
    sent = {
        value.text for value in vars(documents).values() if isinstance(value, documents.Operation)
    }
    covered = {op.text for op in PYTHON_HALF + HASURA_HALF + CLOUD_ONLY}
    assert sent <= covered


def test_the_embedded_api_serves_the_python_half_like_prefect_server(
    reference: GraphQLSchema, embedded: GraphQLSchema
) -> None:
    """Inputs of the operations agents use have the same fields and types in both schemas."""
    for name in (
        "register_agent_input",
        "get_runs_in_queue_input",
        "set_flow_run_states_input",
        "set_flow_run_state_input",
        "set_task_run_state_input",
        "write_run_log_input",
        "create_flow_run_input",
    ):
        ours = {f: str(t.type) for f, t in embedded.type_map[name].fields.items()}  # type: ignore[union-attr]
        theirs = {f: str(t.type) for f, t in reference.type_map[name].fields.items()}  # type: ignore[union-attr]
        assert ours == theirs, name


# What Prefect 1.4.1's own agent and flow process send (spec 13, inline literals): the
# embedded API must accept them too, so a stock Prefect 1.4.1 agent works against it.
PREFECT_1_4_1_HASURA = [
    "query {\n    tenant {\n        id\n    }\n}",
    'query { agent_config(where: {id: {_eq: "11111111-1111-1111-1111-111111111111"}}) '
    "{ settings } }",
    'query { flow_run(where: {id: {_in: ["11111111-1111-1111-1111-111111111111"]}, _or: '
    '[{state: {_eq: "Scheduled"}}, {state: {_eq: "Running"}, task_runs: {state_start_time: '
    '{_lte: "2024-01-01T12:00:00.000000+00:00"}}}]}) { id version state serialized_state '
    "parameters scheduled_start_time run_config name flow { id name environment storage "
    'version core_version } task_runs(where: {state_start_time: {_lte: "2024-01-01T12:00:00'
    '.000000+00:00"}}) { id version task_id serialized_state } } }',
    'query { flow_run_by_pk(id: "11111111-1111-1111-1111-111111111111") { serialized_state } }',
    'query { flow_run(where: {id: {_eq: "11111111-1111-1111-1111-111111111111"}}) '
    "{ flow { name storage run_config } version } }",
]


@pytest.mark.parametrize("text", PREFECT_1_4_1_HASURA)
def test_prefect_1_4_1_queries_validate_against_the_embedded_api(
    embedded: GraphQLSchema, text: str
) -> None:
    assert problems(embedded, text) == []
