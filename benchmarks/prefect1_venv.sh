#!/usr/bin/env bash
# Creates a separate virtualenv with Prefect 1.4.1 for the benchmark comparison (default
# .venv-prefect1 at the repository root; PREFECT1_VENV overrides). Marshmallow is pinned
# because its later releases break Prefect 1.4.1's serialization.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${PREFECT1_VENV:-$root/.venv-prefect1}"
python3 -m venv "$venv" >&2
"$venv/bin/python" -m pip install -q "prefect==1.4.1" "marshmallow<3.20" "marshmallow-oneofschema<3.1" >&2
echo "$venv"
