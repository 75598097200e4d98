"""What a local agent's start loads: it must stay small (cold start and idle memory are
benchmarked against Prefect 1.4.1, see docs/performance.md), so this runs the real CLI in a
fresh interpreter against the embedded API and checks the modules it ended up with."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click

from prefect_agent.cli.groups import LazyGroup, prefect
from prefect_agent.server.testing import running_server

START_AND_LIST_MODULES = """
import json, sys
from prefect_agent.cli.main import main
sys.argv = ["prefect", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    assert not exit.code, exit.code
print(json.dumps(sorted(sys.modules)))
"""

# Neither the heavy clients nor the commands and adapters a local agent does not use.
NOT_LOADED = (
    "requests",
    "urllib3",
    "yaml",
    "docker",
    "kubernetes",
    "graphql",
    "http.server",
    "prefect_agent.server",
    "prefect_agent.adapters.health.server",
    "prefect_agent.adapters.docker",
    "prefect_agent.adapters.kubernetes",
    "prefect_agent.services.explain",
    "prefect_agent.cli.ops_commands",
    "prefect_agent.cli.run_commands",
    "prefect_agent.cli.server_commands",
    "prefect_agent.cli.demo_commands",
    "prefect_agent.cli.kubernetes_install",
)


START_FLAGS = ("agent", "local", "start", "--api")
MORE_FLAGS = ("--max-polls", "1", "--no-hostname-label", "--state-dir")


def test_a_local_agent_start_loads_only_what_it_uses(tmp_path: Path) -> None:
    state_flags = (*MORE_FLAGS, str(tmp_path / "state"))
    with running_server() as api:
        done = subprocess.run(
            [sys.executable, "-c", START_AND_LIST_MODULES, *START_FLAGS, api.url, *state_flags],
            capture_output=True,
            text=True,
            timeout=60,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", **api.agent_env},
        )
        assert done.returncode == 0, done.stderr
        polled = api.stats.snapshot()["fields"]
    assert polled.get("get_runs_in_queue", 0) >= 1  # it really started and polled
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "prefect_agent.adapters.local.platform" in loaded
    unexpected = sorted(
        name
        for name in loaded
        for prefix in NOT_LOADED
        if name == prefix or name.startswith(prefix + ".")
    )
    assert unexpected == []


def _groups(group: click.Group, ctx: click.Context) -> list[click.Group]:
    found = [group]
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            found += _groups(command, ctx)
    return found


def test_every_lazily_loaded_command_is_where_its_group_says() -> None:
    ctx = click.Context(prefect)
    for group in _groups(prefect, ctx):
        if not isinstance(group, LazyGroup):
            continue
        # After list_commands imported every module, the commands attached are exactly the
        # ones announced: a command missing from `lazy` would only appear in some processes.
        attached = {name for name, c in group.commands.items() if not isinstance(c, click.Group)}
        assert attached == set(group.lazy), group.name
