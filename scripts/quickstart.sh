#!/usr/bin/env bash
# The main job on a fresh clone: create the virtualenv (scripts/venv.sh), then run
# `prefect demo`: the embedded API, a few example flow runs and a local agent that runs them,
# printing each run's states as they change. Extra arguments go to `prefect demo`
# (e.g. --runs 10 --with-failure --show-flow-logs).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$("$root/scripts/venv.sh" server)"
exec "$bin/prefect" demo "$@"
