"""Documents differing only in literal values are validated in full once, and their literal
values still every time."""

from __future__ import annotations

from prefect_agent.server.api import Api
from prefect_agent.server.document_shapes import shape
from prefect_agent.server.store import Store

INFO = (
    'mutation { get_or_create_task_run_info(input: {flow_run_id: "%s", task_id: "%s", '
    "map_index: %s}) { id version } }"
)
A = "11111111-1111-1111-1111-111111111111"
B = "22222222-2222-2222-2222-222222222222"


def test_documents_with_other_literals_share_a_shape_but_not_other_names() -> None:
    assert shape(INFO % (A, B, 1)) == shape(INFO % (B, A, 27))
    assert shape("{ r0: hello r1: hello }") != shape("{ r0: hello r0: hello }")
    assert shape('{ flow(where: {name: {_eq: "a # b"}}) { id } }') is None


def test_a_known_shape_still_has_its_literal_values_checked() -> None:
    api = Api(Store())
    status, body = api.execute(INFO % (A, B, 0))
    assert status == 200 and body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    status, body = api.execute(INFO % ("not-a-uuid", B, 0))
    assert status == 400
    assert "not a valid UUID" in body["errors"][0]["message"]
    status, body = api.execute(INFO % (A, B, '"three"'))
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
