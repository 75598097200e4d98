"""Prefect 1.4.1's own CLI against the embedded API: ``prefect run --name ... --watch``
creates a run of a flow Prefect registered, our local agent runs it, and the CLI follows its
states and logs to the end."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import LOCAL_LABEL
from tests.e2e.prefect1_harness import FLOWS, World, describe

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_prefect_run_watch_follows_a_run_to_success(local_world: World) -> None:
    world = local_world
    world.client.register(FLOWS / "hello_params.py", labels=[LOCAL_LABEL],
                          run_config={"type": "LocalRun"})  # fmt: skip
    done = world.client.prefect1.run(
        ["-m", "prefect", "run", "--name", "hello-params", "--project", "e2e",
         "--param", "name=from-the-cli", "--watch"],
        env=world.client.env, timeout=180,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Hello, from-the-cli!" in output  # the task's log line, streamed by --watch
    assert "Success" in output
    data = world.api.graphql(
        '{ flow_run(where: {parameters: {_contains: {name: "from-the-cli"}}}) { id state } }'
    )
    (run,) = data["flow_run"]
    assert run["state"] == "Success", describe(world.api, run["id"])
