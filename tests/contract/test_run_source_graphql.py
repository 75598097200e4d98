"""The RunSource contract against GraphQLRunSource, over real HTTP to the embedded API."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from prefect_agent.adapters.graphql.client import GraphQLClient
from prefect_agent.adapters.graphql.converters import run_config_to_json
from prefect_agent.adapters.graphql.retry_policy import RetryPolicy
from prefect_agent.adapters.graphql.run_source import GraphQLRunSource
from prefect_agent.ports import RunSource
from prefect_agent.server.testing import RunningServer, running_server
from tests.contract.run_source_contract import RunSourceContract

_SLUGS = itertools.count(1)


@pytest.fixture(scope="module")
def api() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


class TestGraphQLRunSource(RunSourceContract):
    @pytest.fixture
    def source(self, api: RunningServer) -> Iterator[GraphQLRunSource]:
        # A fresh tenant per test keeps the contract's label checks independent.
        tenant_id = api.store.create_tenant("contract", f"contract-{next(_SLUGS)}")
        self.api = api
        self.tenant_id = tenant_id
        client = GraphQLClient(
            api.url, api_key=api.secret_key, timeout=10, retry=RetryPolicy(attempts=2)
        )
        source = GraphQLRunSource(client, tenant_id=tenant_id)
        self.restarts: list[GraphQLRunSource] = []
        yield source
        source.close()
        for again in self.restarts:
            again.close()

    def seed(
        self,
        source: RunSource,
        *,
        labels: list[str],
        start_time: datetime | None = None,
        run_config: Any = None,
    ) -> str:
        flow_id = self.api.store.create_flow({"name": "contract-flow"}, tenant_id=self.tenant_id)
        return self.api.create_run(
            flow_id=flow_id,
            labels=labels,
            start_time=start_time,
            run_config=run_config_to_json(run_config) if run_config is not None else None,
        )

    def move(self, source: RunSource, run_id: str, state: str) -> None:
        self.api.set_state(run_id, state)

    def restarted(self, source: RunSource, claimant: str) -> RunSource:
        client = GraphQLClient(
            self.api.url, api_key=self.api.secret_key, timeout=10, retry=RetryPolicy(attempts=2)
        )
        again = GraphQLRunSource(client, tenant_id=self.tenant_id, claimant=claimant)
        self.register(again, ["a"])
        self.restarts.append(again)
        return again

    def logs_of(self, source: RunSource, run_id: str) -> list[tuple[str, str]]:
        return [(log["level"], log["message"]) for log in self.api.logs(run_id)]
