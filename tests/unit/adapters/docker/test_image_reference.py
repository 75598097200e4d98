"""Image references: the registry host as the engine sees it, tags, digests, allow lists."""

from __future__ import annotations

import pytest

from prefect_agent.adapters.docker.image_reference import parse_image
from prefect_agent.domain.errors import LaunchError

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "path", "tag", "repository"),
    [
        ("busybox", "docker.io", "library/busybox", None, "busybox"),
        ("prefecthq/prefect:1.4.1", "docker.io", "prefecthq/prefect", "1.4.1", "prefecthq/prefect"),
        ("ghcr.io/acme/flow:2", "ghcr.io", "acme/flow", "2", "ghcr.io/acme/flow"),
        ("localhost:5000/flow", "localhost:5000", "flow", None, "localhost:5000/flow"),
        ("localhost/flow:x", "localhost", "flow", "x", "localhost/flow"),
        (
            "Registry.Example.COM/a/b",
            "registry.example.com",
            "a/b",
            None,
            "Registry.Example.COM/a/b",
        ),
        (
            "index.docker.io/library/python:3",
            "docker.io",
            "library/python",
            "3",
            "index.docker.io/library/python",
        ),
        ("local/busybox:latest", "docker.io", "local/busybox", "latest", "local/busybox"),
    ],
)
def test_registry_and_path(
    text: str, registry: str, path: str, tag: str | None, repository: str
) -> None:
    ref = parse_image(text)
    assert (ref.registry, ref.path, ref.tag, ref.repository) == (registry, path, tag, repository)
    assert str(ref) == text


def test_digest_and_pull_tag() -> None:
    ref = parse_image(f"ghcr.io/acme/flow@{DIGEST}")
    assert ref.digest == DIGEST and ref.tag is None
    assert ref.pull_tag == DIGEST
    assert ref.repository == "ghcr.io/acme/flow"
    assert parse_image("busybox").pull_tag == "latest"


def test_the_first_path_segment_is_not_a_registry() -> None:
    # Prefect 1.4.1 took "prefecthq" for the registry of prefecthq/prefect.
    ref = parse_image("prefecthq/prefect:1.4.1")
    assert ref.allowed_by(("prefecthq",))  # Prefect 1.4.1's form: a Docker Hub organisation
    assert not ref.allowed_by(("myorg",))
    assert not parse_image("ghcr.io/prefecthq/prefect").allowed_by(("prefecthq",))
    assert ref.allowed_by(("docker.io",))
    assert ref.allowed_by(("index.docker.io",))
    assert ref.allowed_by(("docker.io/prefecthq",))
    assert not ref.allowed_by(("docker.io/prefect",))  # a prefix by whole path segments
    assert not parse_image("ghcr.io/acme/flow").allowed_by(("docker.io", "ghcr.io/other"))
    assert parse_image("ghcr.io/acme/flow").allowed_by(("GHCR.io",))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        (" busybox", "surrounded by spaces"),
        ("UPPER/case", "lower-case"),
        ("busybox:bad tag", "bad tag"),
        ("busybox@sha256:xyz", "bad digest"),
    ],
)
def test_invalid_references(text: str, problem: str) -> None:
    with pytest.raises(LaunchError, match=problem):
        parse_image(text)
