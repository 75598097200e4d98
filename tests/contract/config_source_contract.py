"""The ConfigSource contract, written once and run against every configuration layer.

``ConfigSourceContract`` holds what every layer promises; a subclass provides ``populated()``,
a source that sets some keys. ``SettableLayerContract`` adds what layers fed by the user
promise; a subclass provides ``layer(settings)``: a source that sets exactly ``settings``
(dotted key -> Python value) written in the layer's own syntax, and ``malformed()``: a source
whose input is broken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prefect_agent.adapters.config import DefaultsSource, resolve
from prefect_agent.adapters.config.keys import keys_for
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.secret import Secret
from prefect_agent.ports import ConfigSource

SAMPLE: dict[str, Any] = {
    "cloud.agent.name": "123",
    "cloud.agent.labels": ["dev", "staging"],
    "cloud.agent.env_vars": {"A": "1", "B": "two words"},
    "agent.max_polls": 3,
    "agent.local.show_flow_logs": True,
    "cloud.api_key": "s3cr3t-key",
    "cloud.api": "http://server:4200",
}


class ConfigSourceContract:
    kind = PlatformKind.LOCAL

    @pytest.fixture(autouse=True)
    def _workdir(self, tmp_path: Path) -> None:
        self.tmp = tmp_path

    def populated(self) -> ConfigSource:
        raise NotImplementedError

    def test_is_a_config_source(self) -> None:
        source = self.populated()
        assert isinstance(source, ConfigSource)
        assert source.name

    def test_sets_only_keys_of_this_agent_type(self) -> None:
        known = {key.key for key in keys_for(self.kind)}
        values = self.populated().values()
        assert values
        assert set(values) <= known

    def test_every_key_set_has_an_origin_naming_the_layer(self) -> None:
        source = self.populated()
        for key in source.values():
            assert source.origin(key).startswith(source.name), key

    def test_a_key_not_set_has_no_origin(self) -> None:
        source = self.populated()
        unset = next(k.key for k in keys_for(self.kind) if k.key not in source.values())
        with pytest.raises(KeyError):
            source.origin(unset)

    def test_values_cannot_be_changed_from_outside(self) -> None:
        source = self.populated()
        values = source.values()
        key = next(iter(values))
        with pytest.raises(TypeError):
            values[key] = "other"  # type: ignore[index]
        assert source.values() == values

    def test_resolves_over_the_defaults(self) -> None:
        resolved = resolve(self.kind, [DefaultsSource(self.kind), self.populated()])
        assert resolved.config.kind is self.kind


class SettableLayerContract(ConfigSourceContract):
    def layer(self, settings: dict[str, Any]) -> ConfigSource:
        raise NotImplementedError

    def malformed(self) -> tuple[ConfigSource, str]:
        """A broken source and the text its error must start with (the source's name)."""
        raise NotImplementedError

    def populated(self) -> ConfigSource:
        return self.layer(SAMPLE)

    def test_an_empty_layer_sets_nothing(self) -> None:
        assert dict(self.layer({}).values()) == {}

    def test_sets_exactly_the_given_keys(self) -> None:
        assert set(self.layer(SAMPLE).values()) == set(SAMPLE)

    def test_values_are_parsed_from_the_layer_syntax(self) -> None:
        values = self.layer(SAMPLE).values()
        assert values["cloud.agent.name"] == "123"
        assert list(values["cloud.agent.labels"]) == ["dev", "staging"]
        assert dict(values["cloud.agent.env_vars"]) == {"A": "1", "B": "two words"}
        assert values["agent.max_polls"] == 3
        assert values["agent.local.show_flow_logs"] is True
        assert values["cloud.api"] == "http://server:4200"

    def test_resolves_into_the_agent_config(self) -> None:
        config = resolve(self.kind, [DefaultsSource(self.kind), self.layer(SAMPLE)]).config
        assert config.name == "123"
        assert config.labels == ("dev", "staging")
        assert dict(config.env_vars) == {"A": "1", "B": "two words"}
        assert config.max_polls == 3
        assert config.platform.show_flow_logs is True
        assert config.api == "http://server:4200"
        assert isinstance(config.api_key, Secret)
        assert config.api_key.reveal() == "s3cr3t-key"

    def test_a_malformed_layer_raises_a_config_error_naming_its_source(self) -> None:
        source, prefix = self.malformed()
        with pytest.raises(ConfigError) as caught:
            source.values()
        message = str(caught.value)
        assert message.startswith(prefix)
        assert "\n" not in message
