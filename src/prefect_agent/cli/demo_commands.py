"""``prefect demo``: the embedded API, example Prefect 1.4.1 flows (or stand-in runs) and a
local agent, in one command."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from prefect_agent.cli.groups import CONTEXT_SETTINGS, prefect

DEMO_LABEL = "demo"
FINISHED = ("Success", "Failed", "Cancelled")
WATCH_INTERVAL = 0.05
ERROR_LOG_GRACE = 10.0
"""Seconds a failed run's error logs may arrive after its Failed state."""


def executor_command() -> tuple[str, ...]:
    """The stand-in flow-run executor (not Prefect core), run by this Python."""
    return (sys.executable, "-m", "prefect_agent.executor")


@prefect.command("demo", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--prefect1-python",
    metavar="PATH",
    help="A Python that has Prefect 1.4.1 (scripts/quickstart.sh passes the one it installs): "
    "it registers the example flows and runs them. Default: this Python if it has Prefect 1.",
)
@click.option(
    "--stand-in",
    is_flag=True,
    help="Run example runs with the stand-in executor instead of Prefect flows (no Prefect "
    "1.4.1 needed).",
)
@click.option(
    "--runs",
    default=None,
    type=click.IntRange(1, 1000),
    help="Runs of each example flow (default 1); with --stand-in, example runs (default 4).",
)
@click.option(
    "--seconds",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="How long each stand-in run works (--stand-in only).",
)
@click.option(
    "--with-failure",
    is_flag=True,
    help="Add a run that fails, to show how it ends: a flow whose task raises (the stand-in: "
    "a process that crashes, failed by the agent with its exit code).",
)
@click.option("--show-flow-logs", "-f", is_flag=True, help="Show each run's output, prefixed.")
@click.option("--verbose", "-v", is_flag=True, help="Show the agent's own log lines.")
@click.option(
    "--timeout",
    default=300.0,
    show_default=True,
    type=click.FloatRange(1, None),
    help="Give up after this many seconds.",
)
def demo(
    prefect1_python: str | None,
    stand_in: bool,
    runs: int | None,
    seconds: float,
    with_failure: bool,
    show_flow_logs: bool,
    verbose: bool,
    timeout: float,
) -> None:
    """Start the embedded API, register example Prefect flows, and run them with a local agent.

    Prefect 1.4.1 registers the examples (one with mapped tasks, one whose task succeeds on
    its retry) with its own client and runs them with `prefect execute flow-run`; the demo
    shows each flow run's and task run's states as they change and exits when all are
    finished. Without Prefect 1.4.1 (or with --stand-in) a small stand-in executor, not
    Prefect core, runs example runs instead, and the demo says so.
    """
    import tempfile  # only the demo needs it: keep it off every other command's start-up

    from prefect_agent.bootstrap import build_agent
    from prefect_agent.cli import demo_prefect1
    from prefect_agent.domain.agent_config import AgentConfig
    from prefect_agent.domain.local_settings import LocalSettings
    from prefect_agent.server.embedded import start_server

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s | %(message)s",
        stream=sys.stderr,
    )
    python = None if stand_in else _prefect1_python(prefect1_python, demo_prefect1)
    api = start_server()
    api_key = api.api_key
    workdir = tempfile.TemporaryDirectory(prefix="prefect-demo-")
    try:
        click.echo(f"Embedded Prefect API at {api.url} (in memory)")
        tasks = None
        if python is None:
            expected = _schedule(api, runs or 4, seconds, with_failure)
            command = executor_command()
            click.echo(
                f"Scheduled {len(expected)} example flow runs with label {DEMO_LABEL!r}; a "
                "local agent runs them with the stand-in executor (not Prefect core).\n"
            )
        else:
            click.echo(f"Prefect 1.4.1 ({python}) registers the example flows...")
            try:
                names = demo_prefect1.register_examples(
                    python, api.url, workdir.name, api_key=api_key, labels=[DEMO_LABEL],
                    runs_each=runs or 1, with_failure=with_failure,
                )  # fmt: skip
            except demo_prefect1.Prefect1Unavailable as exc:
                raise click.ClickException(str(exc)) from None
            expected = {
                run_id: (name, "Failed" if name.startswith("always-fails") else "Success")
                for run_id, name in names.items()
            }
            command = demo_prefect1.flow_run_command(python)
            tasks = demo_prefect1.TaskRunView()
            click.echo(
                f"Created {len(expected)} flow runs with label {DEMO_LABEL!r}; a local agent "
                "runs them with `python -m prefect execute flow-run`.\n"
            )
        config = AgentConfig(
            name="demo-agent",
            labels=[DEMO_LABEL],
            api=api.url,
            api_key=api_key,
            flow_run_command=command,
            platform=LocalSettings(
                hostname_label=False,
                show_flow_logs=show_flow_logs,
                state_dir=str(Path(workdir.name) / "agent-state"),
            ),
        )
        agent = build_agent(config)
        runner = threading.Thread(target=agent.run, name="demo-agent", daemon=True)
        runner.start()
        try:
            finals = _watch(api, expected, timeout, tasks)
        finally:
            agent.stop()
            runner.join(timeout=30)
    finally:
        api.close()
        workdir.cleanup()
    _summarise(expected, finals, stand_in=python is None)


def _prefect1_python(given: str | None, demo_prefect1: Any) -> str | None:
    """The Python that runs the Prefect flows, or None (the stand-in), saying why."""
    candidate = given or sys.executable
    try:
        version = demo_prefect1.check_python(candidate)
    except demo_prefect1.Prefect1Unavailable as exc:
        if given:
            raise click.ClickException(str(exc)) from None
        click.echo(
            "Prefect 1.4.1 is not installed here (scripts/prefect1-venv.sh installs it; "
            "then pass --prefect1-python): falling back to the stand-in executor, which "
            "only reports states and runs no Prefect flow.",
            err=True,
        )
        return None
    if version != "1.4.1":
        click.echo(f"Note: {candidate} has Prefect {version}; the examples expect 1.4.1.", err=True)
    return candidate


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


def _watch(
    api: Any, expected: dict[str, tuple[str, str]], timeout: float, tasks: Any = None
) -> dict[str, str]:
    """Print every state change as it is seen (with ``tasks``, a ``TaskRunView``, the task
    runs' too) and the errors of failed runs; returns each run's last state."""
    seen: dict[str, int] = dict.fromkeys(expected, 0)
    last: dict[str, str] = {}
    # Failed runs whose ERROR logs are still to show, with when to stop waiting for them:
    # Prefect sends its log records in the background, some after the final state.
    errors_due: dict[str, float] = {}
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
                    errors_due[run_id] = time.monotonic() + ERROR_LOG_GRACE
            seen[run_id] = len(history)
        if tasks is not None:
            for run_id, label, previous, state in tasks.changes(api, list(expected)):
                stamp = datetime.now(timezone.utc).strftime("%H:%M:%S.%f")[:-3]
                name = expected[run_id][0]
                click.echo(f"  {stamp}  {name:<{width}}    {label}: {_arrow(previous, state)}")
        for run_id, give_up in list(errors_due.items()):
            errors = [log for log in api.logs(run_id) if log["level"] in ("ERROR", "CRITICAL")]
            if errors or time.monotonic() > give_up:
                del errors_due[run_id]
                name = expected[run_id][0]
                for log in errors:
                    for line in str(log["message"]).splitlines():
                        click.echo(f"  {'':12}  {name:<{width}}    | {line}")
        if not errors_due and all(last.get(run_id) in FINISHED for run_id in expected):
            break
        time.sleep(WATCH_INTERVAL)  # the demo polls the API like a person refreshing a page
    return last


def _arrow(previous: str | None, state: str) -> str:
    return state if previous is None else f"{previous} -> {state}"


def _summarise(
    expected: dict[str, tuple[str, str]], finals: dict[str, str], *, stand_in: bool
) -> None:
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
    if stand_in:
        click.echo(
            "Step by step: see docs/local.md (prefect server start, prefect run create, "
            "prefect agent local start)."
        )
    else:
        click.echo(
            "Step by step with your own flows: see docs/api.md (prefect server start, Prefect "
            "1.4.1's prefect register and prefect run --watch, prefect agent local start)."
        )


__all__: Sequence[str] = ["demo", "executor_command"]
