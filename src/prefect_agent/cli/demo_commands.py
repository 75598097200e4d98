"""``prefect demo``: the embedded API, a few example runs and a local agent, in one command."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import click

from prefect_agent.cli.groups import CONTEXT_SETTINGS, prefect

DEMO_LABEL = "demo"
FINISHED = ("Success", "Failed", "Cancelled")
WATCH_INTERVAL = 0.05


def executor_command() -> tuple[str, ...]:
    """The example flow-run executor (not Prefect core), run by this Python."""
    return (sys.executable, "-m", "prefect_agent.executor")


@prefect.command("demo", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--runs",
    default=4,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many example flow runs to schedule.",
)
@click.option(
    "--seconds",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="How long each example run works.",
)
@click.option(
    "--with-failure",
    is_flag=True,
    help="Add a run that crashes, to show how the agent fails it with its exit code.",
)
@click.option("--show-flow-logs", "-f", is_flag=True, help="Show each run's output, prefixed.")
@click.option("--verbose", "-v", is_flag=True, help="Show the agent's own log lines.")
@click.option(
    "--timeout",
    default=120.0,
    show_default=True,
    type=click.FloatRange(1, None),
    help="Give up after this many seconds.",
)
def demo(
    runs: int,
    seconds: float,
    with_failure: bool,
    show_flow_logs: bool,
    verbose: bool,
    timeout: float,
) -> None:
    """Start the embedded API, schedule example runs, and run them with a local agent.

    Shows each run's states as they change (Scheduled, Submitted, Running, Success) and
    exits when all are finished. The runs are executed by a small example executor that
    reports states over GraphQL; it is not Prefect core.
    """
    import tempfile  # only the demo needs it: keep it off every other command's start-up

    from prefect_agent.bootstrap import build_agent
    from prefect_agent.domain.agent_config import AgentConfig
    from prefect_agent.domain.local_settings import LocalSettings
    from prefect_agent.server.testing import start_server

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s | %(message)s",
        stream=sys.stderr,
    )
    api = start_server()
    state_dir = tempfile.TemporaryDirectory(prefix="prefect-demo-")
    try:
        click.echo(f"Embedded Prefect API at {api.url} (in memory)")
        expected = _schedule(api, runs, seconds, with_failure)
        click.echo(
            f"Scheduled {len(expected)} example flow runs with label {DEMO_LABEL!r}; a local "
            "agent runs them with the example executor (not Prefect core).\n"
        )
        config = AgentConfig(
            name="demo-agent",
            labels=[DEMO_LABEL],
            api=api.url,
            api_key=api.api_key,
            flow_run_command=executor_command(),
            platform=LocalSettings(
                hostname_label=False, show_flow_logs=show_flow_logs, state_dir=state_dir.name
            ),
        )
        agent = build_agent(config)
        runner = threading.Thread(target=agent.run, name="demo-agent", daemon=True)
        runner.start()
        try:
            finals = _watch(api, expected, timeout)
        finally:
            agent.stop()
            runner.join(timeout=30)
    finally:
        api.close()
        state_dir.cleanup()
    _summarise(expected, finals)


def _schedule(
    api: Any, count: int, seconds: float, with_failure: bool
) -> dict[str, tuple[str, str]]:
    """Create the runs; returns id -> (name, the final state it should reach)."""
    flow_id = api.create_flow("demo-flow", run_config={"type": "LocalRun", "labels": [DEMO_LABEL]})
    expected: dict[str, tuple[str, str]] = {}
    for index in range(1, count + 1):
        name = f"demo-run-{index}"
        run_id = api.create_run(
            flow_id=flow_id,
            labels=[DEMO_LABEL],
            name=name,
            run_config={"type": "LocalRun", "labels": [DEMO_LABEL]},
            parameters={"seconds": seconds},
        )
        expected[run_id] = (name, "Success")
    if with_failure:
        run_id = api.create_run(
            flow_id=flow_id,
            labels=[DEMO_LABEL],
            name="demo-run-crashing",
            parameters={"seconds": seconds, "exit_code": 3},
        )
        expected[run_id] = ("demo-run-crashing", "Failed")
    return expected


def _watch(api: Any, expected: dict[str, tuple[str, str]], timeout: float) -> dict[str, str]:
    """Print every state change as it is seen; returns each run's last state."""
    seen: dict[str, int] = dict.fromkeys(expected, 0)
    last: dict[str, str] = {}
    width = max(len(name) for name, _ in expected.values())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run_id, (name, _) in expected.items():
            if last.get(run_id) in FINISHED:
                continue
            history = api.history(run_id)
            for state in history[seen[run_id] :]:
                stamp = datetime.now(timezone.utc).strftime("%H:%M:%S.%f")[:-3]
                click.echo(f"  {stamp}  {name:<{width}}  {_arrow(last.get(run_id), state)}")
                last[run_id] = state
                if state == "Failed":
                    for log in api.logs(run_id):
                        if log["level"] == "ERROR":
                            for line in str(log["message"]).splitlines():
                                click.echo(f"  {'':12}  {'':<{width}}    | {line}")
            seen[run_id] = len(history)
        if all(last.get(run_id) in FINISHED for run_id in expected):
            break
        time.sleep(WATCH_INTERVAL)  # the demo polls the API like a person refreshing a page
    return last


def _arrow(previous: str | None, state: str) -> str:
    return state if previous is None else f"{previous} -> {state}"


def _summarise(expected: dict[str, tuple[str, str]], finals: dict[str, str]) -> None:
    wrong = [
        f"{name} is {finals.get(run_id, 'unknown')}, expected {want}"
        for run_id, (name, want) in expected.items()
        if finals.get(run_id) != want
    ]
    counts: dict[str, int] = {}
    for state in finals.values():
        counts[state] = counts.get(state, 0) + 1
    tally = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    if wrong:
        click.echo(f"\nThe demo did not end as expected ({tally}):", err=True)
        for line in wrong:
            click.echo(f"  {line}", err=True)
        raise SystemExit(1)
    click.echo(f"\nAll {len(expected)} runs finished as expected: {tally}.")
    click.echo(
        "Step by step: see docs/local.md (prefect server start, prefect run create, "
        "prefect agent local start)."
    )


__all__: Sequence[str] = ["demo", "executor_command"]
