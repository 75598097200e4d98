#!/usr/bin/env bash
# Prefect 1.4.1, the client of record, in a virtualenv of its own (default .venv-prefect1 at the
# repository root; PREFECT1_VENV overrides). Tests that need what Prefect 1.4.1 itself produces
# (serialized run configs and storage, registered flows, its flow runner and CLI) and the
# benchmarks use it. Marshmallow is pinned because its later releases break Prefect 1.4.1's
# serialization. Built once; rebuilt when this script changes. Prints the venv's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${PREFECT1_VENV:-$root/.venv-prefect1}"
py="${PYTHON:-python3}"
stamp="$venv/.installed-$(sha1sum "$0" | cut -c1-12)"
if [ ! -e "$stamp" ]; then
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install -q --upgrade pip >&2
    "$venv/bin/python" -m pip install -q \
        "prefect==1.4.1" "marshmallow<3.20" "marshmallow-oneofschema<3.1" >&2
    "$venv/bin/python" -c 'import prefect, sys; sys.exit(prefect.__version__ != "1.4.1")'
    touch "$stamp"
fi
echo "$venv"
