#!/usr/bin/env bash
# The full test suite, from a fresh machine: installs what it needs (the project's venv and
# Prefect 1.4.1's own), starts a real Docker engine for the Docker tests (and stops it
# afterwards), runs pytest. Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="$(scripts/venv.sh dev)"
# Prefect 1.4.1, the client of record, in its own venv: tests run what it produces.
PREFECT1_VENV="$(scripts/prefect1-venv.sh)"
export PREFECT1_VENV
if [ -x scripts/docker-engine.sh ] && [ "${PREFECT_AGENT_NO_DOCKER:-}" != "1" ]; then
    trap 'scripts/docker-engine.sh down || true' EXIT
    if scripts/docker-engine.sh up; then
        export PREFECT_AGENT_DOCKER_REQUIRED="${CI:+1}"
    else
        echo "test.sh: no Docker engine could be started; Docker tests will be skipped" >&2
        [ -n "${CI:-}" ] && exit 1
    fi
fi
status=0
"$bin/python" -m pytest "$@" || status=$?
# pytest exits 5 when a selection collected no tests: nothing failed.
if [ "$status" -eq 5 ]; then status=0; fi
exit "$status"
