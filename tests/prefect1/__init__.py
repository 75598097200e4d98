"""Prefect 1.4.1 itself, run in its own virtualenv (scripts/prefect1-venv.sh), for tests that
need what Prefect produces: serialized run configs and storage, registered flows, the requests
of its client, flow runner and CLI. Never hand-written JSON standing in for Prefect."""

import pytest

# Field-by-field comparisons live in helper modules: let their asserts explain themselves.
pytest.register_assert_rewrite("tests.prefect1.compare", "tests.prefect1.ours")
