"""Image references (``[registry/]path[:tag][@digest]``) and the registry they come from.

The registry is found as the Docker engine finds it: the first component is a registry host
only when it contains ``.`` or ``:`` or is ``localhost``; otherwise the image is on Docker
Hub (``docker.io``). Prefect 1.4.1 compared the first path segment instead, so
``prefecthq/prefect`` counted as registry ``prefecthq``: such allow-list entries keep that
meaning (a Docker Hub organisation).
"""

from __future__ import annotations

import re

import attrs

from prefect_agent.domain.errors import LaunchError

DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_PATH = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")


def _is_host(component: str) -> bool:
    """Whether the first component of a reference names a registry host (the engine's rule)."""
    return "." in component or ":" in component or component == "localhost"


def normalize_registry(host: str) -> str:
    """``index.docker.io`` and friends are all ``docker.io``; hosts compare case-insensitively."""
    lowered = host.lower().rstrip("/")
    return DOCKER_HUB if lowered in _HUB_ALIASES else lowered


@attrs.frozen
class ImageReference:
    """A parsed image reference; ``str()`` gives back the reference as written."""

    text: str
    registry: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        """What ``docker pull`` needs before ``:tag`` (the registry stays if it was written)."""
        name, _, _ = self.text.partition("@")
        last_slash = name.rfind("/")
        colon = name.rfind(":")
        return name[:colon] if colon > last_slash else name

    @property
    def pull_tag(self) -> str:
        """The tag or digest to pull: an untagged reference means ``latest``."""
        return self.digest or self.tag or "latest"

    def allowed_by(self, allow_list: tuple[str, ...]) -> bool:
        """Whether an entry names this image's registry (``ghcr.io``), a path prefix of it
        (``docker.io/prefecthq``) or, as in Prefect 1.4.1's lists, a Docker Hub
        organisation (``prefecthq``, the same as ``docker.io/prefecthq``)."""
        full = f"{self.registry}/{self.path}"
        for entry in allow_list:
            host, _, prefix = entry.strip().partition("/")
            if not prefix and not _is_host(host):
                host, prefix = DOCKER_HUB, host
            normalized = normalize_registry(host)
            if not prefix and normalized == self.registry:
                return True
            if prefix and (full + "/").startswith(f"{normalized}/{prefix.strip('/')}/"):
                return True
        return False

    def __str__(self) -> str:
        return self.text


def parse_image(text: str) -> ImageReference:
    """Parse an image reference, or raise ``LaunchError`` saying what is wrong with it."""
    if not text or text != text.strip():
        raise LaunchError(f"Invalid image reference {text!r}: empty or surrounded by spaces")
    name, at, digest = text.partition("@")
    if at and not _DIGEST.match(digest):
        raise LaunchError(f"Invalid image reference {text!r}: bad digest {digest!r}")
    tag = None
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            raise LaunchError(f"Invalid image reference {text!r}: bad tag {tag!r}")
    first, slash, rest = name.partition("/")
    if slash and _is_host(first):
        registry, path = normalize_registry(first), rest
    else:
        registry, path = DOCKER_HUB, name
        if "/" not in path:
            path = f"library/{path}"
    if not _PATH.match(path):
        raise LaunchError(
            f"Invalid image reference {text!r}: {path!r} must be lower-case letters, digits "
            "and separators"
        )
    return ImageReference(text=text, registry=registry, path=path, tag=tag, digest=digest or None)
