"""Run a command and record its wall time and CPU (the command and its children) as JSON.

Used as an agent's flow-run command, so the flow process the agent starts is measured as it
really runs: ``python timed_command.py OUT_DIR -- command...`` writes
``OUT_DIR/<flow run id>.json`` (``PREFECT__CONTEXT__FLOW_RUN_ID``; ``<pid>.json`` without)
and exits with the command's status. A script, not a module: the flow process's PYTHONPATH
is the agent's choice.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    out_dir, separator, *command = argv
    if separator != "--" or not command:
        sys.exit("usage: timed_command.py OUT_DIR -- command...")
    started = time.monotonic()
    status = subprocess.run(command, check=False).returncode
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    name = os.environ.get("PREFECT__CONTEXT__FLOW_RUN_ID") or str(os.getpid())
    with open(os.path.join(out_dir, f"{name}.json"), "w") as handle:
        json.dump({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "status": status}, handle)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
