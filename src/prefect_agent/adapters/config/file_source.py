"""The user file layer: ``~/.prefect/config.toml`` (or ``$PREFECT__USER_CONFIG_PATH``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from prefect_agent.adapters.config.env_expansion import expand, read_expanded
from prefect_agent.adapters.config.keys import ConfigKey, keys_for
from prefect_agent.adapters.config.layer import Layer, bad_value
from prefect_agent.adapters.config.text_values import BadText
from prefect_agent.adapters.config.toml_lines import line_of
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.platform_kind import PlatformKind

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_PATH = "~/.prefect/config.toml"
PATH_VARIABLE = "PREFECT__USER_CONFIG_PATH"


def user_config_path(environ: Mapping[str, str]) -> str:
    """The user file's path: ``$PREFECT__USER_CONFIG_PATH`` or ``~/.prefect/config.toml``."""
    return expand(environ.get(PATH_VARIABLE) or DEFAULT_PATH, environ)


class FileSource(Layer):
    """Reads the keys of ``[cloud]``, ``[cloud.agent]``, ``[server]``, ``[logging]``,
    ``[context]`` and ``[agent.*]`` that an agent of ``kind`` uses; other keys (the file is
    shared with the rest of Prefect 1) are ignored. A missing file is an empty layer.

    Strings are expanded (``$VAR``, ``~``) and, for non-string keys, read as text the way the
    environment is, since Prefect 1 files often hold ``labels = "['dev']"``.
    """

    name = "file"

    def __init__(
        self, path: str, kind: PlatformKind, *, environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__()
        self.path = path
        self.kind = kind
        self.environ = os.environ if environ is None else environ

    def _load(self) -> dict[str, tuple[Any, str]]:
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return {}
        except OSError as err:
            raise ConfigError(f"cannot read: {err.strerror}", source=f"file {self.path}") from None
        try:
            text = raw.decode("utf-8")
            document = tomllib.loads(text)
        except UnicodeDecodeError:
            raise ConfigError("is not UTF-8 text", source=f"file {self.path}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"malformed TOML: {err}", source=f"file {self.path}") from None
        keys = {key.key: key for key in keys_for(self.kind)}
        loaded: dict[str, tuple[Any, str]] = {}
        for dotted, value in _flatten(document, keys):
            key = keys[dotted]
            line = line_of(text, dotted)
            origin = f"file {self.path}:{line}" if line else f"file {self.path}"
            loaded[dotted] = (self._read(key, value, origin), origin)
        return loaded

    def _read(self, key: ConfigKey, value: Any, origin: str) -> Any:
        try:
            return read_expanded(key, value, self.environ)
        except BadText as err:
            raise bad_value(key, origin, err, value) from None


def _flatten(table: Mapping[str, Any], keys: Mapping[str, ConfigKey], prefix: str = ""):  # type: ignore[no-untyped-def]
    """``(dotted key, value)`` for every known key; a known key's table value is taken whole."""
    for name, value in table.items():
        dotted = f"{prefix}{name}"
        if dotted in keys:
            yield dotted, value
        elif isinstance(value, dict):
            yield from _flatten(value, keys, dotted + ".")
