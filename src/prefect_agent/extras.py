"""Which optional extra of the package brings which third-party library, and the one-line
configuration error a command gives when the extra it needs is not installed.

Checked with ``find_spec`` before the adapter is imported, so a missing extra is named as such
instead of surfacing as whichever of the library's own dependencies happens to be imported
first (``No module named 'urllib3'`` for a missing ``kubernetes``)."""

from __future__ import annotations

from importlib.util import find_spec

from prefect_agent.domain.errors import ConfigError

MODULES_OF_EXTRA: dict[str, tuple[str, ...]] = {
    "docker": ("docker",),
    "kubernetes": ("kubernetes",),
    "server": ("graphql",),
    "metrics": ("prometheus_client",),
}


class MissingExtra(ConfigError):
    """A command needs an optional extra that is not installed."""


def require(extra: str, *, needed_by: str) -> None:
    """Raise ``MissingExtra`` naming the ``pip install`` to run if ``extra`` is missing."""
    missing = [name for name in MODULES_OF_EXTRA[extra] if find_spec(name) is None]
    if missing:
        raise MissingExtra(
            f"needs the '{extra}' extra (no module {', '.join(missing)}): "
            f"pip install 'prefect-agent[{extra}]'",
            source=needed_by,
        )
