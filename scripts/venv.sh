#!/usr/bin/env bash
# Creates .venv (once) and installs the project with the given extras (default: dev).
# Re-installs only when pyproject.toml changed. Prints the venv's bin directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
extras="${1:-dev}"
venv="${PREFECT_AGENT_VENV:-$root/.venv}"
py="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install -q --upgrade pip >&2
fi
stamp="$venv/.installed-$extras-$(sha1sum "$root/pyproject.toml" | cut -c1-12)"
if [ ! -e "$stamp" ]; then
    "$venv/bin/python" -m pip install -q -e "$root[$extras]" >&2
    touch "$stamp"
fi
echo "$venv/bin"
