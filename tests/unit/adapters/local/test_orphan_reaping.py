"""As PID 1 the agent inherits orphaned grandchildren: it must reap them, not leave zombies.

The test runs a small program that makes itself a child subreaper (orphans are re-parented
to it, exactly as to PID 1 in a container), starts a LocalPlatform there, and launches a run
whose process leaves a grandchild behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HOST = r"""
import ctypes, json, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER: orphans come to us
from prefect_agent.adapters.local.platform import LocalPlatform
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import build_launch_spec

state, gate, pidfile, reap = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
platform = LocalPlatform(state_dir=state, reap_orphans=reap)
blocked = f"open({gate!r}).read()"
leaver = (
    "import subprocess, sys\n"
    f"p = subprocess.Popen([sys.executable, '-c', {blocked!r}])\n"
    f"open({pidfile!r}, 'w').write(str(p.pid))\n"
)  # the run's process exits at once, leaving its child (blocked on the gate) behind
run = FlowRun(id="run-1", version=1, state="Submitted")
config = AgentConfig(flow_run_command=(sys.executable, "-c", leaver))
platform.launch(run, build_launch_spec(run, config, tenant_id=None))

def stat(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return fields[0].decode(), int(fields[1])
    except OSError:
        return None

end = time.monotonic() + 30
outcomes = []
while time.monotonic() < end and not outcomes:
    outcomes = list(platform.outcomes())
    time.sleep(0.01)
grandchild = int(open(pidfile).read())
assert stat(grandchild)[1] == os.getpid(), stat(grandchild)  # it is ours now
with open(gate, "w"):
    pass  # let the grandchild exit
def settled():
    now = stat(grandchild)
    return now is None if reap else now is not None and now[0] == "Z"

end = time.monotonic() + 10
while time.monotonic() < end and not settled():
    time.sleep(0.01)
print(json.dumps({"outcome": outcomes[0].exit_code, "grandchild": stat(grandchild)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="subreaper is Linux-only")
@pytest.mark.parametrize("reap", [True, False])
def test_orphans_re_parented_to_the_agent_are_reaped(tmp_path: Path, reap: bool) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    done = subprocess.run(
        [sys.executable, "-c", HOST, str(tmp_path / "state"), str(gate),
         str(tmp_path / "pid"), "1" if reap else "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outcome"] == 0
    if reap:
        assert result["grandchild"] is None  # reaped: gone entirely
    else:
        # The control: without reaping the exited grandchild stays a zombie of the host.
        assert result["grandchild"][0] == "Z"
