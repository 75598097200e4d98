"""The embedded schema is a faithful subset of Prefect Server's: every Python-service field,
input and payload it shares with Prefect Server has the same arguments, fields and types;
the rest is the Hasura half (tables) or a documented Cloud extra."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    get_named_type,
)

from prefect_agent.server.api import schema_sdl
from prefect_agent.server.resolvers import TABLES

REFERENCE_SCHEMA = Path("/work/shared/reference/prefect_server_schema.graphql")

CLOUD_EXTRAS = {"auth_info", "update_task_tag_limit", "delete_task_tag_limit"}
"""Operations Prefect 1.4.1 sends to Prefect Cloud that the embedded API also answers."""

LOOSER = {("create_flow_input", "project_id")}
"""Optional here, required on Server: a flow without a project goes to project "default"."""


@pytest.fixture(scope="module")
def reference() -> GraphQLSchema:
    if not REFERENCE_SCHEMA.exists():
        pytest.skip(f"the reference schema {REFERENCE_SCHEMA} is not on this machine")
    return build_schema(REFERENCE_SCHEMA.read_text())


@pytest.fixture(scope="module")
def embedded() -> GraphQLSchema:
    return build_schema(schema_sdl())


def hasura_field(name: str) -> bool:
    return any(name in (t, f"{t}_by_pk", f"{t}_aggregate") for t in TABLES)


def test_every_operation_is_prefect_servers_a_table_or_a_cloud_extra(
    reference: GraphQLSchema, embedded: GraphQLSchema
) -> None:
    for root in ("query_type", "mutation_type"):
        ours, theirs = getattr(embedded, root), getattr(reference, root)
        for name, field in ours.fields.items():
            if hasura_field(name) or name in CLOUD_EXTRAS:
                continue
            assert name in theirs.fields, f"{name} is not a Prefect Server operation"
            mine = {a: str(arg.type) for a, arg in field.args.items()}
            server = {a: str(arg.type) for a, arg in theirs.fields[name].args.items()}
            assert mine == server, name
            assert str(field.type) == str(theirs.fields[name].type), name


def test_shared_inputs_and_payloads_have_prefect_servers_fields_and_types(
    reference: GraphQLSchema, embedded: GraphQLSchema
) -> None:
    checked = 0
    for name, ours in embedded.type_map.items():
        theirs = reference.type_map.get(name)
        if name.startswith("__") or theirs is None:
            continue
        if isinstance(ours, GraphQLInputObjectType):
            assert isinstance(theirs, GraphQLInputObjectType), name
            mine = {f: str(t.type) for f, t in ours.fields.items()}
            server = {f: str(t.type) for f, t in theirs.fields.items()}
            for field in {f for f in server if (name, f) in LOOSER}:
                assert mine[field] == server[field].rstrip("!"), (name, field)
                mine[field] = server[field]
            assert mine == server, name
            checked += 1
        elif isinstance(ours, GraphQLObjectType) and name not in ("Query", "Mutation"):
            assert isinstance(theirs, GraphQLObjectType), name
            mine = {f: str(t.type) for f, t in ours.fields.items()}
            server = {f: str(t.type) for f, t in theirs.fields.items()}
            assert mine.items() <= server.items(), name
            checked += 1
    assert checked > 40


def test_every_type_an_operation_uses_is_defined(embedded: GraphQLSchema) -> None:
    for root in (embedded.query_type, embedded.mutation_type):
        assert root is not None
        for field in root.fields.values():
            assert get_named_type(field.type).name in embedded.type_map
