"""Volume specs in docker-CLI syntax, parsed into bind mounts and named volumes.

Unlike Prefect 1.4.1, a relative host path (``./data``, ``../x``, ``~/x``) is resolved to an
absolute path instead of silently becoming a named volume; a source that is neither a path
nor a valid volume name (``data/x``) is rejected with the reason.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable

import attrs

from prefect_agent.domain.errors import ConfigError

VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
ACCESS_MODES = frozenset({"rw", "ro"})
OTHER_MODES = frozenset(
    {"z", "Z", "shared", "rshared", "slave", "rslave", "private", "rprivate", "nocopy"}
)


@attrs.frozen
class Volume:
    """One mount: ``source`` is an absolute host path (bind) or a volume name (named)."""

    source: str
    target: str
    mode: str = "rw"
    named: bool = False

    @property
    def bind(self) -> dict[str, str]:
        """The docker-py ``binds`` entry for this mount."""
        return {"bind": self.target, "mode": self.mode}


VOLUMES_KEY = "agent.docker.volumes"


def _fail(spec: str, problem: str) -> ConfigError:
    return ConfigError(f"volume {spec!r}: {problem}", key=VOLUMES_KEY, value=spec)


def _mode(spec: str, text: str) -> str:
    parts = text.split(",")
    unknown = [p for p in parts if p not in ACCESS_MODES and p not in OTHER_MODES]
    if unknown or not parts:
        raise _fail(spec, f"unknown mode {','.join(unknown) or text!r} (use rw or ro)")
    if sum(p in ACCESS_MODES for p in parts) > 1:
        raise _fail(spec, "give at most one of rw and ro")
    return text


def _host_path(spec: str, source: str, base_dir: str) -> str:
    if source.startswith("~"):
        expanded = os.path.expanduser(source)
        if expanded.startswith("~"):
            raise _fail(spec, f"cannot expand {source!r}: no home directory known")
        source = expanded
    return posixpath.normpath(posixpath.join(base_dir, source))


def parse_volume(spec: str, *, base_dir: str | None = None) -> Volume:
    """Parse ``/host:/ctr[:mode]``, ``./rel:/ctr``, ``~/x:/ctr``, ``name:/ctr`` or ``/path``.

    A single absolute path mounts that host path at the same place (as Prefect 1 did).
    Relative host paths are resolved against ``base_dir`` (default: the current directory).
    """
    base = base_dir if base_dir is not None else os.getcwd()
    fields = spec.split(":")
    if len(fields) > 3 or any(not f for f in fields):
        raise _fail(spec, "expected SOURCE:TARGET[:MODE] or an absolute path")
    if len(fields) == 1:
        if not fields[0].startswith("/"):
            raise _fail(spec, "a volume without a target must be an absolute host path")
        path = posixpath.normpath(fields[0])
        return Volume(source=path, target=path)
    source, target = fields[0], fields[1]
    mode = _mode(spec, fields[2]) if len(fields) == 3 else "rw"
    if not target.startswith("/"):
        raise _fail(spec, f"the container path {target!r} must be absolute")
    target = posixpath.normpath(target)
    if source.startswith(("/", ".", "~")):
        return Volume(source=_host_path(spec, source, base), target=target, mode=mode)
    if VOLUME_NAME.match(source):
        return Volume(source=source, target=target, mode=mode, named=True)
    raise _fail(
        spec,
        f"{source!r} is neither a host path nor a volume name; "
        f"write ./{source} for a path relative to {base}",
    )


def parse_volumes(specs: Iterable[str], *, base_dir: str | None = None) -> tuple[Volume, ...]:
    volumes = tuple(parse_volume(spec, base_dir=base_dir) for spec in specs)
    seen: dict[str, str] = {}
    for volume in volumes:
        if volume.target in seen:
            raise ConfigError(
                f"volumes {seen[volume.target]!r} and {volume.source!r} both mount {volume.target}",
                key=VOLUMES_KEY,
            )
        seen[volume.target] = volume.source
    return volumes
