"""Volume specs: binds, named volumes, relative paths resolved, bad specs rejected clearly."""

from __future__ import annotations

import pytest

from prefect_agent.adapters.docker.volumes import Volume, parse_volume, parse_volumes
from prefect_agent.domain.errors import ConfigError


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("/data:/in", Volume("/data", "/in")),
        ("/data/:/in/:ro", Volume("/data", "/in", "ro")),
        ("/srv", Volume("/srv", "/srv")),
        ("./rel:/in", Volume("/base/rel", "/in")),
        ("../up:/in:ro", Volume("/up", "/in", "ro")),
        (".:/in", Volume("/base", "/in")),
        ("cache:/cache", Volume("cache", "/cache", named=True)),
        ("cache:/cache:ro", Volume("cache", "/cache", "ro", named=True)),
        ("/d:/in:ro,z", Volume("/d", "/in", "ro,z")),
    ],
)
def test_valid_specs(spec: str, expected: Volume) -> None:
    assert parse_volume(spec, base_dir="/base") == expected


def test_home_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/me")
    assert parse_volume("~/x:/x", base_dir="/base") == Volume("/home/me/x", "/x")


def test_a_relative_path_never_becomes_a_named_volume() -> None:
    # Prefect 1.4.1 turned "data/x" (and "./data") into a named volume called "data/x".
    with pytest.raises(ConfigError, match=r"write \./data/x for a path relative to /base"):
        parse_volume("data/x:/in", base_dir="/base")


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("a:b:c:d", "expected SOURCE:TARGET"),
        ("/a::/b", "expected SOURCE:TARGET"),
        ("relative", "must be an absolute host path"),
        ("/a:in", "container path 'in' must be absolute"),
        ("/a:/in:rx", "unknown mode"),
        ("/a:/in:ro,rw", "at most one of rw and ro"),
    ],
)
def test_bad_specs_name_the_spec_and_the_problem(spec: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_volume(spec, base_dir="/base")
    assert caught.value.key == "agent.docker.volumes"
    assert repr(spec) in str(caught.value)
    assert problem in str(caught.value)


def test_two_volumes_on_one_container_path_are_rejected() -> None:
    with pytest.raises(ConfigError, match="both mount /in"):
        parse_volumes(["/a:/in", "b:/in"], base_dir="/base")
