"""The ConfigSource contract run against every layer: defaults, file, environment,
constructor arguments and command-line flags."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from prefect_agent.adapters.config import (
    ArgumentSource,
    DefaultsSource,
    EnvSource,
    FileSource,
    FlagSource,
    resolve,
)
from prefect_agent.adapters.config.keys import env_name, keys_for
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.ports import ConfigSource
from tests.contract.config_source_contract import ConfigSourceContract, SettableLayerContract


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


class TestFileSource(SettableLayerContract):
    def layer(self, settings: dict[str, Any]) -> ConfigSource:
        path = self.tmp / "config.toml"
        path.write_text("".join(f"{k} = {_toml_value(v)}\n" for k, v in settings.items()))
        return FileSource(str(path), self.kind, environ={})

    def malformed(self) -> tuple[ConfigSource, str]:
        path = self.tmp / "broken.toml"
        path.write_text('[cloud.agent]\nlabels = ["a"\n')
        return FileSource(str(path), self.kind, environ={}), f"file {path}"


class TestEnvSource(SettableLayerContract):
    def layer(self, settings: dict[str, Any]) -> ConfigSource:
        environ = {"UNRELATED": "x", "PREFECT__FLOWS__CHECKPOINTING": "true"}
        for key, value in settings.items():
            if isinstance(value, (list, dict)):
                text = json.dumps(value)
            elif isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = str(value)
            environ[env_name(key)] = text
        return EnvSource(self.kind, environ)

    def malformed(self) -> tuple[ConfigSource, str]:
        environ = {"PREFECT__AGENT__MAX_POLLS": "lots"}
        return EnvSource(self.kind, environ), "env PREFECT__AGENT__MAX_POLLS"


class TestArgumentSource(SettableLayerContract):
    def layer(self, settings: dict[str, Any]) -> ConfigSource:
        fields = {key.key: key.argument for key in keys_for(self.kind)}
        return ArgumentSource(self.kind, {fields[k]: v for k, v in settings.items()})

    def malformed(self) -> tuple[ConfigSource, str]:
        return ArgumentSource(self.kind, {"lables": ["typo"]}), "argument lables"


class TestFlagSource(SettableLayerContract):
    def layer(self, settings: dict[str, Any]) -> ConfigSource:
        given: dict[str, Any] = {}
        for key, value in settings.items():
            if isinstance(value, dict):
                given[key] = tuple(f"{k}={v}" for k, v in value.items())
            elif isinstance(value, list):
                given[key] = tuple(value)
            elif isinstance(value, bool):
                given[key] = value
            else:
                given[key] = str(value)
        return FlagSource(self.kind, given)

    def malformed(self) -> tuple[ConfigSource, str]:
        return FlagSource(self.kind, {"cloud.agent.env_vars": ("FOO",)}), "flag --env"


class TestDefaultsSource(ConfigSourceContract):
    """The packaged defaults are fixed: they set every key to its field's default."""

    def populated(self) -> ConfigSource:
        return DefaultsSource(self.kind)

    def test_a_key_not_set_has_no_origin(self) -> None:
        source = DefaultsSource(self.kind)
        with pytest.raises(KeyError):
            source.origin("cloud.agent.no_such_key")

    def test_every_field_default_is_present_with_origin_default(self) -> None:
        source = DefaultsSource(self.kind)
        values = source.values()
        for field in attrs.fields(AgentConfig):
            if field.name in ("platform", "operations", "api"):
                continue
            key = next(k for k in keys_for(self.kind) if k.field == field.name)
            built = AgentConfig(**{field.name: values[key.key]})
            assert getattr(built, field.name) == getattr(AgentConfig(), field.name), field.name
            assert source.origin(key.key) == "default"
        hostname_default = attrs.fields(LocalSettings).hostname_label.default
        assert values["agent.local.hostname_label"] is hostname_default
        assert values["cloud.api"] == "${${backend}.endpoint}"


@pytest.mark.parametrize("kind", list(PlatformKind))
def test_defaults_resolve_for_every_agent_type(kind: PlatformKind) -> None:
    config = resolve(kind, [DefaultsSource(kind)]).config
    assert config.kind is kind
    assert config.api == "http://localhost:4200"
