"""Fixtures shared by every suite."""

from __future__ import annotations

import pytest

from tests.prefect1.venv import Prefect1, find


@pytest.fixture(scope="session")
def prefect1() -> Prefect1:
    """Prefect 1.4.1 in its own venv: skips outside CI when absent, fails in CI."""
    return find()
