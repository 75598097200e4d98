#!/usr/bin/env bash
# The main job on a fresh clone: create the project's virtualenv (scripts/venv.sh) and
# Prefect 1.4.1's own (scripts/prefect1-venv.sh), then run `prefect demo`: the embedded API,
# example Prefect flows registered by Prefect 1.4.1 (one with mapped tasks, one with a retry)
# and a local agent that runs them with `python -m prefect execute flow-run`, printing flow
# and task run states as they change. Where Prefect 1.4.1 cannot be installed the demo falls
# back to the stand-in executor and says so. Extra arguments go to `prefect demo`
# (e.g. --runs 2 --with-failure --show-flow-logs).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$("$root/scripts/venv.sh" server)"
if prefect1="$("$root/scripts/prefect1-venv.sh")"; then
    exec "$bin/prefect" demo --prefect1-python "$prefect1/bin/python" "$@"
fi
echo "quickstart.sh: Prefect 1.4.1 could not be installed (see above); the demo runs the" \
     "stand-in executor instead of Prefect flows." >&2
exec "$bin/prefect" demo --stand-in "$@"
