"""The `config` output: every key, its value and its source; secrets masked."""

from __future__ import annotations

import json

import pytest

from prefect_agent.adapters.config import DefaultsSource, EnvSource, FlagSource, resolve
from prefect_agent.adapters.config.value_display import as_json, as_table
from prefect_agent.domain.agent_config import masked_url
from prefect_agent.domain.platform_kind import PlatformKind

LOCAL = PlatformKind.LOCAL


def resolved():  # type: ignore[no-untyped-def]
    env = EnvSource(
        LOCAL, {"PREFECT__CLOUD__AGENT__LABELS": "a,b", "PREFECT__CLOUD__API_KEY": "k-1"}
    )
    flags = FlagSource(LOCAL, {"cloud.agent.name": "n1", "cloud.agent.env_vars": ("TOKEN=t-2",)})
    return resolve(LOCAL, [DefaultsSource(LOCAL), env, flags])


def test_the_table_shows_values_and_sources() -> None:
    lines = {line.split()[0]: line for line in as_table(resolved()).splitlines()}
    assert lines["KEY"].split() == ["KEY", "ENVIRONMENT", "VARIABLE", "VALUE", "SOURCE"]
    assert lines["cloud.agent.name"].split() == [
        "cloud.agent.name",
        "PREFECT__CLOUD__AGENT__NAME",
        "n1",
        "flag",
        "--name",
    ]
    assert lines["cloud.agent.labels"].split()[-2:] == ["env", "PREFECT__CLOUD__AGENT__LABELS"]
    assert '["a",' in lines["cloud.agent.labels"]
    assert lines["cloud.api"].split() == [
        "cloud.api",
        "PREFECT__CLOUD__API",
        "http://localhost:4200",
        "default",
    ]
    assert lines["cloud.api_key"].split() == [
        "cloud.api_key",
        "PREFECT__CLOUD__API_KEY",
        "********",
        "env",
        "PREFECT__CLOUD__API_KEY",
    ]
    assert lines["cloud.tenant_id"].split()[2:] == ["(not", "set)", "default"]
    assert "k-1" not in as_table(resolved())


def test_json_output() -> None:
    document = json.loads(as_json(resolved()))
    assert document["cloud.agent.name"] == {
        "value": "n1",
        "source": "flag --name",
        "env": "PREFECT__CLOUD__AGENT__NAME",
    }
    assert document["cloud.api_key"]["value"] == "********"
    assert document["cloud.agent.env_vars"]["value"] == {"TOKEN": "t-2"}
    assert "k-1" not in as_json(resolved())


def test_a_password_in_an_address_is_masked() -> None:
    flags = FlagSource(LOCAL, {"cloud.api": "http://agent:s3cret@prefect.internal:4200/graphql"})
    shown = resolve(LOCAL, [DefaultsSource(LOCAL), flags])
    for text in (as_table(shown), as_json(shown)):
        assert "s3cret" not in text
        assert "http://agent:********@prefect.internal:4200/graphql" in text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("http://tok3n@prefect.internal", "http://********@prefect.internal"),
        ("http://agent:pa/ss@host:4200/x", "http://agent:********@host:4200/x"),
        ("https://host/path?mail=a@b", "https://host/path?mail=a@b"),
        ("team@corp", "team@corp"),
    ],
)
def test_credentials_of_any_shape_are_masked_and_nothing_else(value: str, shown: str) -> None:
    assert masked_url(value, keep_user=True) == shown
