"""A command whose optional extra is missing says which `pip install` to run, in one line,
exit 2 (as any configuration error), instead of a ModuleNotFoundError traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

# The library is made unimportable the way a missing distribution is: `find_spec` answers
# None and `import` fails.
RUNNER = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from prefect_agent.cli.main import prefect
prefect(args=sys.argv[2:], prog_name="prefect")
"""


def run_without(modules: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, modules, *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("hidden", "args", "extra"),
    [
        ("docker", ["agent", "docker", "start", "--max-polls", "1"], "docker"),
        ("kubernetes", ["agent", "kubernetes", "start", "--max-polls", "1"], "kubernetes"),
        ("graphql", ["server", "start", "--port", "0"], "server"),
    ],
)
def test_a_missing_extra_is_one_line_naming_the_install(hidden, args, extra):
    done = run_without(hidden, *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"pip install 'prefect-agent[{extra}]'" in lines[0]
    assert f"no module {hidden}" in lines[0]
