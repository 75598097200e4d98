"""The user file layer: Prefect 1's ``~/.prefect/config.toml``."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefect_agent.adapters.config import DefaultsSource, FileSource, resolve, user_config_path
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.platform_kind import PlatformKind

LOCAL = PlatformKind.LOCAL

PREFECT1_FILE = """\
backend = "server"

[server]
host = "http://prefect.internal"
port = "4300"

[cloud]
request_timeout = 30
send_flow_run_logs = false
api_key = "from-file-key"

[cloud.agent]
name = "night-shift"
labels = "['dev', 'staging']"
level = "debug"
agent_address = "http://:8080"

[cloud.agent.env_vars]
A = "1"
DEBUG = true

[logging]
level = "WARNING"
format = "ignored by agents"

[flows]
checkpointing = true

[context.secrets]
MY_SECRET = "unrelated"
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def test_a_prefect1_user_file_configures_the_agent(tmp_path: Path) -> None:
    source = FileSource(write(tmp_path, PREFECT1_FILE), LOCAL, environ={})
    config = resolve(LOCAL, [DefaultsSource(LOCAL), source]).config
    assert config.name == "night-shift"
    assert config.labels == ("dev", "staging")
    assert dict(config.env_vars) == {"A": "1", "DEBUG": "true"}
    assert config.api == "http://prefect.internal:4300"
    assert config.request_timeout == 30.0
    assert config.send_flow_run_logs is False
    assert config.log_level == "DEBUG"
    assert config.flow_log_level == "WARNING"
    assert str(config.agent_address) == "http://:8080"
    assert config.api_key is not None and config.api_key.reveal() == "from-file-key"


def test_origins_point_at_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, PREFECT1_FILE)
    source = FileSource(path, LOCAL, environ={})
    assert source.origin("cloud.agent.name") == f"file {path}:13"
    assert source.origin("cloud.agent.env_vars") == f"file {path}:18"
    assert source.origin("backend") == f"file {path}:1"


def test_a_missing_file_is_an_empty_layer(tmp_path: Path) -> None:
    assert dict(FileSource(str(tmp_path / "nope.toml"), LOCAL, environ={}).values()) == {}


def test_the_path_comes_from_prefect_user_config_path() -> None:
    env = {"PREFECT__USER_CONFIG_PATH": "$HOME/custom.toml", "HOME": "/home/u"}
    assert user_config_path(env) == "/home/u/custom.toml"
    assert user_config_path({"HOME": "/home/u"}) == "/home/u/.prefect/config.toml"


def test_malformed_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'backend = "server"\n[cloud.agent\nname = "x"\n')
    with pytest.raises(ConfigError) as caught:
        FileSource(path, LOCAL, environ={}).values()
    assert str(caught.value).startswith(f"file {path}: malformed TOML: ")
    assert "line 2" in str(caught.value)


def test_a_value_of_the_wrong_type_names_file_line_key_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, "[cloud.agent]\n\nname = [1, 2]\n")
    with pytest.raises(ConfigError) as caught:
        resolve(LOCAL, [DefaultsSource(LOCAL), FileSource(path, LOCAL, environ={})])
    assert str(caught.value) == f"file {path}:3: cloud.agent.name: expected a string, got [1, 2]"


def test_a_text_value_that_cannot_be_read_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[agent]\nmax_polls = "often"\n')
    with pytest.raises(ConfigError) as caught:
        FileSource(path, LOCAL, environ={}).values()
    assert str(caught.value) == f"file {path}:2: agent.max_polls: expected an integer, got 'often'"


def test_strings_expand_environment_variables_and_home(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[cloud]\napi_key = "${PREFECT_KEY}"\n[agent.local]\nimport_paths = ["~/flows"]\n'
        'state_dir = "~/state"\n',
    )
    source = FileSource(path, LOCAL, environ={"PREFECT_KEY": "k-123", "HOME": "/home/u"})
    values = source.values()
    assert values["cloud.api_key"] == "k-123"
    assert values["agent.local.state_dir"] == "/home/u/state"
    assert values["agent.local.import_paths"] == ["/home/u/flows"]


def test_items_of_lists_and_tables_expand_like_strings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[cloud.agent]\nenv_vars = { DATA = "$DATA_ROOT/in", CACHE = "~/cache" }\n'
        "[agent.local]\nimport_paths = \"['~/a', '$LIB']\"\n",
    )
    environ = {"HOME": "/home/u", "DATA_ROOT": "/srv", "LIB": "/opt/lib"}
    values = FileSource(path, LOCAL, environ=environ).values()
    assert values["cloud.agent.env_vars"] == {"DATA": "/srv/in", "CACHE": "/home/u/cache"}
    assert values["agent.local.import_paths"] == ["/home/u/a", "/opt/lib"]


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        FileSource(str(tmp_path), LOCAL, environ={}).values()


def test_docker_keys_are_ignored_by_a_local_agent(tmp_path: Path) -> None:
    path = write(tmp_path, '[context]\nbase_url = "tcp://docker:2375"\n')
    assert dict(FileSource(path, LOCAL, environ={}).values()) == {}
    docker = FileSource(path, PlatformKind.DOCKER, environ={}).values()
    assert docker == {"context.base_url": "tcp://docker:2375"}
