"""Merging the layers: precedence, the backend's API default, references, errors."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefect_agent.adapters.config import (
    ArgumentSource,
    DefaultsSource,
    EnvSource,
    FileSource,
    FlagSource,
    resolve,
    standard_layers,
)
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.secret import MASK
from prefect_agent.ports import ConfigSource

LOCAL = PlatformKind.LOCAL
LAYER_ORDER = ("file", "env", "argument", "flag")
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


def layer(kind: str, name: str | None, polls: int | None, workdir: Path) -> ConfigSource:
    if kind == "file":
        path = workdir / "config.toml"
        lines = []
        if name is not None:
            lines.append(f'[cloud.agent]\nname = "{name}"\n')
        if polls is not None:
            lines.append(f"[agent]\nmax_polls = {polls}\n")
        path.write_text("".join(lines))
        return FileSource(str(path), LOCAL, environ={})
    if kind == "env":
        environ = {}
        if name is not None:
            environ["PREFECT__CLOUD__AGENT__NAME"] = name
        if polls is not None:
            environ["PREFECT__AGENT__MAX_POLLS"] = str(polls)
        return EnvSource(LOCAL, environ)
    if kind == "argument":
        return ArgumentSource(LOCAL, {"name": name, "max_polls": polls})
    given_flags: dict[str, object] = {}
    if name is not None:
        given_flags["cloud.agent.name"] = name
    if polls is not None:
        given_flags["agent.max_polls"] = str(polls)
    return FlagSource(LOCAL, given_flags)


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries(
        {kind: st.tuples(st.none() | names, st.none() | st.integers(0, 99)) for kind in LAYER_ORDER}
    )
)
def test_any_mix_of_layers_yields_the_highest_priority_value(
    chosen: dict[str, tuple[str | None, int | None]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        layers: list[ConfigSource] = [DefaultsSource(LOCAL)]
        layers += [layer(kind, *chosen[kind], Path(tmp)) for kind in LAYER_ORDER]
        resolved = resolve(LOCAL, layers)
    names_set = [(k, chosen[k][0]) for k in LAYER_ORDER if chosen[k][0] is not None]
    polls_set = [(k, chosen[k][1]) for k in LAYER_ORDER if chosen[k][1] is not None]
    expected_name = names_set[-1] if names_set else ("default", "agent")
    expected_polls = polls_set[-1] if polls_set else ("default", None)
    assert resolved.config.name == expected_name[1]
    assert resolved.entry("cloud.agent.name").origin.startswith(expected_name[0])
    assert resolved.config.max_polls == expected_polls[1]
    assert resolved.entry("agent.max_polls").origin.startswith(expected_polls[0])


def test_the_default_backend_is_server_on_localhost() -> None:
    config = resolve(LOCAL, [DefaultsSource(LOCAL)]).config
    assert config.backend == "server"
    assert config.api == "http://localhost:4200"


def test_the_cloud_backend_selects_the_cloud_api() -> None:
    config = resolve(
        LOCAL, [DefaultsSource(LOCAL), EnvSource(LOCAL, {"PREFECT__BACKEND": "cloud"})]
    ).config
    assert config.api == "https://api.prefect.io"


def test_server_host_and_port_feed_the_default_api() -> None:
    env = {"PREFECT__SERVER__HOST": "http://apollo", "PREFECT__SERVER__PORT": "4300"}
    config = resolve(LOCAL, [DefaultsSource(LOCAL), EnvSource(LOCAL, env)]).config
    assert config.api == "http://apollo:4300"


def test_an_explicit_api_wins_over_the_backend() -> None:
    env = {"PREFECT__BACKEND": "cloud", "PREFECT__CLOUD__API": "http://mine:4200/"}
    config = resolve(LOCAL, [DefaultsSource(LOCAL), EnvSource(LOCAL, env)]).config
    assert config.api == "http://mine:4200"


def test_references_between_keys_resolve(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[server]\nhost = "http://db"\n[cloud]\napi = "${server.host}:9999"\n')
    config = resolve(
        LOCAL, [DefaultsSource(LOCAL), FileSource(str(path), LOCAL, environ={})]
    ).config
    assert config.api == "http://db:9999"


def test_standard_layers_read_the_user_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "user.toml"
    path.write_text('[cloud.agent]\nname = "from-file"\nlabels = ["f"]\n')
    environ = {"PREFECT__USER_CONFIG_PATH": str(path), "PREFECT__CLOUD__AGENT__NAME": "from-env"}
    flags = FlagSource(LOCAL, {"agent.max_polls": "2"})
    resolved = resolve(LOCAL, standard_layers(LOCAL, flags, environ=environ))
    assert resolved.config.name == "from-env"
    assert resolved.config.labels == ("f",)
    assert resolved.config.max_polls == 2
    assert resolved.entry("cloud.agent.labels").origin == f"file {path}:3"


@pytest.mark.parametrize(
    "source",
    [
        FlagSource(LOCAL, {"cloud.api_key": "top-secret-value"}),
        EnvSource(LOCAL, {"PREFECT__CLOUD__API_KEY": "top-secret-value"}),
        ArgumentSource(LOCAL, {"api_key": "top-secret-value"}),
    ],
)
def test_a_secret_from_any_layer_is_masked_in_the_resolved_config(source: ConfigSource) -> None:
    resolved = resolve(LOCAL, [DefaultsSource(LOCAL), source])
    assert "top-secret-value" not in repr(resolved)
    assert "top-secret-value" not in repr(resolved.config)
    assert resolved.config.api_key is not None
    assert resolved.config.api_key.reveal() == "top-secret-value"


def test_a_secret_of_the_wrong_type_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[cloud]\napi_key = ["top-secret-value"]\n')
    with pytest.raises(ConfigError) as caught:
        resolve(LOCAL, [DefaultsSource(LOCAL), FileSource(str(path), LOCAL, environ={})])
    assert "top-secret-value" not in str(caught.value)
    assert str(caught.value) == f"file {path}:2: cloud.api_key: invalid value"
    assert caught.value.value == MASK


def test_a_non_positive_number_names_its_flag() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(
            LOCAL, [DefaultsSource(LOCAL), FlagSource(LOCAL, {"agent.deploy_concurrency": "0"})]
        )
    assert str(caught.value) == (
        "flag --deploy-concurrency: agent.deploy_concurrency: deploy_concurrency must be "
        "positive, got 0"
    )


def test_values_of_other_platforms_in_a_layer_are_ignored() -> None:
    source = ArgumentSource(PlatformKind.DOCKER, {"base_url": "tcp://x:2375"})
    config = resolve(LOCAL, [DefaultsSource(LOCAL), source]).config
    assert config.kind is LOCAL


def test_a_secret_is_never_substituted_into_another_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[cloud]\napi_key = "top-secret-value"\napi = "${cloud.api_key}"\n')
    with pytest.raises(ConfigError) as caught:
        resolve(LOCAL, [DefaultsSource(LOCAL), FileSource(str(path), LOCAL, environ={})])
    assert "top-secret-value" not in str(caught.value)
    assert "${cloud.api_key}" in str(caught.value)
