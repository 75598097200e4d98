"""The ConfigSource contract, written once and run against every configuration layer.

A subclass provides ``layer(settings)``: a source of its kind that sets exactly ``settings``
(dotted key -> Python value), written in the layer's own syntax; and ``malformed()``: a
source whose input is broken. Either may ``pytest.skip`` when the layer cannot express it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prefect_agent.adapters.config import DefaultsSource, resolve
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

    def layer(self, settings: dict[str, Any]) -> ConfigSource:
        raise NotImplementedError

    def malformed(self) -> tuple[ConfigSource, str]:
        """A broken source and the text its error must start with (the source's name)."""
        raise NotImplementedError

    def test_is_a_config_source(self) -> None:
        assert isinstance(self.layer({}), ConfigSource)

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

    def test_every_key_has_an_origin_naming_the_layer(self) -> None:
        source = self.layer(SAMPLE)
        for key in SAMPLE:
            assert source.origin(key).startswith(source.name), key

    def test_an_unset_key_has_no_origin(self) -> None:
        with pytest.raises(KeyError):
            self.layer({"cloud.agent.name": "x"}).origin("cloud.agent.labels")

    def test_values_cannot_be_changed_from_outside(self) -> None:
        values = self.layer(SAMPLE).values()
        with pytest.raises(TypeError):
            values["cloud.agent.name"] = "other"  # type: ignore[index]

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
