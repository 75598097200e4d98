"""One build of the sdist and wheel per session, shared by the distribution tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.distribution.venvs import Dist


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dist]:
    workdir = tmp_path_factory.mktemp("build")
    yield Dist(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
