"""Two agents' sources race to claim the same 200 runs; each run is claimed exactly once."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

from prefect_agent.adapters.graphql.client import GraphQLClient
from prefect_agent.adapters.graphql.run_source import GraphQLRunSource
from prefect_agent.domain.outcomes import Claimed
from prefect_agent.server.testing import running_server

RUNS = 200


def test_each_run_is_claimed_exactly_once() -> None:
    with running_server() as api:
        flow_id = api.create_flow("race")
        ids = {api.create_run(flow_id=flow_id, labels=["race"]) for _ in range(RUNS)}
        won: dict[str, list[str]] = {"a": [], "b": []}
        attempted: dict[str, int] = {"a": 0, "b": 0}
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def agent(name: str, seed: int) -> None:
            try:
                source = GraphQLRunSource(GraphQLClient(api.url, api_key=api.secret_key))
                source.register(
                    agent_type="LocalAgent", name=name, labels=["race"], agent_config_id=None
                )
                start.wait(10)
                shuffle = random.Random(seed)
                while True:
                    before = datetime.now(timezone.utc) + timedelta(seconds=10)
                    runs = list(source.ready_runs(["race"], before).runs)
                    if not runs:
                        return
                    shuffle.shuffle(runs)
                    attempted[name] += len(runs)
                    for at in range(0, len(runs), 20):
                        for result in source.claim(runs[at : at + 20]):
                            if isinstance(result, Claimed):
                                won[name].append(result.run_id)
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=agent, args=(n, s)) for n, s in (("a", 1), ("b", 2))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert not set(won["a"]) & set(won["b"])
        assert sorted(won["a"] + won["b"]) == sorted(ids)
        for run_id in ids:
            assert api.history(run_id).count("Submitted") == 1
        # Both agents went for every run, so half of all claims were lost races.
        assert attempted["a"] >= RUNS and attempted["b"] >= RUNS
