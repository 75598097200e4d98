"""The flag and constructor-argument layers."""

from __future__ import annotations

import pytest

from prefect_agent.adapters.config import ArgumentSource, DefaultsSource, FlagSource, resolve
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.platform_kind import PlatformKind

LOCAL, DOCKER, KUBERNETES = PlatformKind.LOCAL, PlatformKind.DOCKER, PlatformKind.KUBERNETES


def test_switches_and_inverted_switches() -> None:
    values = FlagSource(
        KUBERNETES,
        {"cloud.send_flow_run_logs": True, "agent.kubernetes.delete_finished_jobs": True},
    ).values()
    assert values["cloud.send_flow_run_logs"] is False
    assert values["agent.kubernetes.delete_finished_jobs"] is False


def test_repeated_flags_are_one_item_each_and_env_splits_on_the_first_equals() -> None:
    source = FlagSource(
        LOCAL, {"cloud.agent.labels": ("a,b", "c"), "cloud.agent.env_vars": ("X=1=2", "Y=")}
    )
    assert source.values()["cloud.agent.labels"] == ["a,b", "c"]
    assert source.values()["cloud.agent.env_vars"] == {"X": "1=2", "Y": ""}


def test_label_flags_are_sorted_and_unique_while_configured_labels_keep_their_order() -> None:
    # Prefect 1.4.1: its CLI sorts --label values; config and constructor labels stay as given.
    flags = FlagSource(LOCAL, {"cloud.agent.labels": ("b", "a", "b")})
    assert flags.values()["cloud.agent.labels"] == ["a", "b"]
    arguments = ArgumentSource(LOCAL, {"labels": ["b", "a"]})
    assert resolve(LOCAL, [DefaultsSource(LOCAL), arguments]).config.labels == ("b", "a")


def test_image_pull_secrets_is_comma_separated() -> None:
    source = FlagSource(KUBERNETES, {"agent.kubernetes.image_pull_secrets": "a, b"})
    assert source.values()["agent.kubernetes.image_pull_secrets"] == ["a", "b"]


def test_log_level_is_case_insensitive_among_the_1_4_1_choices() -> None:
    assert (
        FlagSource(LOCAL, {"cloud.agent.level": "debug"}).values()["cloud.agent.level"] == "DEBUG"
    )
    with pytest.raises(ConfigError) as caught:
        FlagSource(LOCAL, {"cloud.agent.level": "loud"}).values()
    assert str(caught.value) == (
        "flag --log-level: cloud.agent.level: must be one of DEBUG, INFO, WARNING, ERROR, "
        "not 'loud'"
    )


def test_a_flag_of_another_platform_is_refused() -> None:
    with pytest.raises(ConfigError, match="no such flag on a local agent"):
        FlagSource(LOCAL, {"context.base_url": "x"}).values()


def test_constructor_only_settings_have_no_flag() -> None:
    with pytest.raises(ConfigError):
        FlagSource(DOCKER, {"agent.docker.reg_allow_list": ("r",)}).values()
    source = ArgumentSource(DOCKER, {"reg_allow_list": ["registry.example.com"]})
    config = resolve(DOCKER, [DefaultsSource(DOCKER), source]).config
    assert config.platform.reg_allow_list == ("registry.example.com",)


def test_empty_arguments_fall_back_to_lower_layers_as_in_prefect1() -> None:
    source = ArgumentSource(LOCAL, {"labels": [], "env_vars": {}, "name": None})
    assert dict(source.values()) == {}


def test_argument_origins_name_the_argument() -> None:
    source = ArgumentSource(LOCAL, {"labels": ["x"], "api_key": "k"})
    assert source.origin("cloud.agent.labels") == "argument labels"
    assert source.origin("cloud.api_key") == "argument api_key"


def test_a_lone_string_argument_is_one_label() -> None:
    source = ArgumentSource(LOCAL, {"labels": "dev"})
    assert resolve(LOCAL, [DefaultsSource(LOCAL), source]).config.labels == ("dev",)
