"""One build of the sdist and wheel per session, shared by the distribution tests."""

from __future__ import annotations

import pytest

from tests.distribution.venvs import Dist


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    return Dist(tmp_path_factory.mktemp("build"))
