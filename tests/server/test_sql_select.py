"""Table queries filtered, ordered and paged in SQL answer exactly as the Python filter did,
and read only the rows asked for (issue 15: ``limit`` was applied after loading the table)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from prefect_agent.server import bool_exp
from prefect_agent.server.resolvers import RequestContext, select
from prefect_agent.server.sql_select import plan
from prefect_agent.server.store import JSON_COLUMNS
from prefect_agent.server.testing import RunningServer, running_server

STATES = ["Scheduled", "Running", "Success", "Failed"]
NAMES = ["alpha", "beta", "Beta", "gamma", "ünïcode", None]
TIMES = ["2026-01-01T00:00:00+00:00", "2026-06-01T12:00:00+00:00", None]


@pytest.fixture(scope="module")
def seeded() -> Iterator[RunningServer]:
    rng = random.Random(1515)
    with running_server() as api:
        flow_id = api.create_flow("sql")
        for index in range(60):
            run_id = api.create_run(flow_id=flow_id, name=f"run-{index}")
            name = rng.choice(NAMES)
            start = rng.choice(TIMES)
            with api.store.transaction() as conn:  # varied values, NULLs included
                conn.execute(
                    "UPDATE flow_run SET name = ?, state = ?, version = ?, "
                    "state_start_time = ? WHERE id = ?",
                    (name, rng.choice(STATES), rng.randint(1, 4), start, run_id),
                )
        yield api


def condition(rng: random.Random) -> dict[str, Any]:
    column, values = rng.choice(
        [
            ("name", [n for n in NAMES if n]),
            ("state", STATES),
            ("version", [1, 2, 3, 4]),
            ("state_start_time", [t for t in TIMES if t]),
        ]
    )
    operator = rng.choice(["_eq", "_neq", "_in", "_nin", "_gt", "_gte", "_lt", "_lte", "_is_null"])
    if operator in ("_in", "_nin"):
        operand: Any = rng.sample(values, rng.randint(0, len(values)))
    elif operator == "_is_null":
        operand = rng.random() < 0.5
    else:
        operand = rng.choice(values)
    return {column: {operator: operand}}


def where_of(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    roll = rng.random()
    if depth < 2 and roll < 0.15:
        return {"_and": [where_of(rng, depth + 1) for _ in range(rng.randint(0, 3))]}
    if depth < 2 and roll < 0.3:
        return {"_or": [where_of(rng, depth + 1) for _ in range(rng.randint(0, 3))]}
    if depth < 2 and roll < 0.4:
        return {"_not": where_of(rng, depth + 1)}
    where = condition(rng)
    if rng.random() < 0.3:
        where.update(condition(rng))
    return where


def order_of(rng: random.Random) -> list[dict[str, str]]:
    directions = ["asc", "desc", "asc_nulls_first", "desc_nulls_last"]
    columns = rng.sample(["name", "state", "version", "state_start_time"], rng.randint(0, 2))
    return [{column: rng.choice(directions)} for column in columns]


def test_sql_answers_match_the_python_filter(seeded: RunningServer) -> None:
    api = seeded
    rng = random.Random(15)
    context = RequestContext(api.store, api.server.api.limits, {})
    everything = api.store.rows("flow_run")
    for _ in range(400):
        where, order_by = where_of(rng), order_of(rng)
        limit = rng.choice([None, 0, 1, 5, 100])
        offset = rng.choice([None, 0, 3, 70])
        args = {"where": where, "order_by": order_by, "limit": limit, "offset": offset}
        assert plan(api.store.columns["flow_run"], JSON_COLUMNS["flow_run"], **args)
        expected = bool_exp.page(
            bool_exp.ordered([r for r in everything if bool_exp.matches(r, where, {})], order_by),
            limit,
            offset,
        )
        got = select(context, "flow_run", **args)
        assert [r["id"] for r in got] == [r["id"] for r in expected], args


def test_what_sql_cannot_do_exactly_stays_in_python(seeded: RunningServer) -> None:
    columns, json_columns = seeded.store.columns["flow_run"], JSON_COLUMNS["flow_run"]
    for where in (
        {"name": {"_like": "a%"}},  # SQLite's LIKE ignores case
        {"labels": {"_contains": ["x"]}},  # a JSON column
        {"task_runs": {"state": {"_eq": "Running"}}},  # a relation
        {"_or": [{"state": {"_eq": "Running"}}, {"name": {"_ilike": "%A"}}]},
    ):
        args: dict[str, Any] = {"where": where, "order_by": None, "limit": 1, "offset": None}
        assert plan(columns, json_columns, **args) is None, where
    assert (
        plan(columns, json_columns, where=None, order_by=[{"labels": "asc"}], limit=1, offset=0)
        is None
    )


def test_limit_and_offset_reach_sqlite(seeded: RunningServer) -> None:
    api = seeded
    statements: list[str] = []
    api.store._conn.set_trace_callback(statements.append)
    try:
        data = api.graphql(
            '{ flow_run(where: {state: {_neq: "Failed"}}, order_by: {version: desc}, '
            "limit: 3, offset: 2) { id version } }"
        )
    finally:
        api.store._conn.set_trace_callback(None)
    assert len(data["flow_run"]) == 3
    reads = [s for s in statements if s.startswith("SELECT * FROM flow_run")]
    assert reads and all("LIMIT 3 OFFSET 2" in s and "ORDER BY version DESC" in s for s in reads)
