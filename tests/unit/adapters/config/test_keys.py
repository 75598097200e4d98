"""The key table follows the attrs fields of the settings classes."""

from __future__ import annotations

from collections import Counter
from typing import Literal

import attrs
import pytest

from prefect_agent.adapters.config import keys as keys_module
from prefect_agent.adapters.config.keys import (
    PREFECT1_NAMES,
    SECTION_CLASSES,
    Section,
    ValueKind,
    all_keys,
    keys_for,
)
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.platform_kind import PlatformKind


def test_every_prefect1_entry_names_an_existing_field() -> None:
    for section, field in PREFECT1_NAMES:
        names = {a.name for a in attrs.fields(SECTION_CLASSES[section])}
        assert field in names, f"{section}.{field} is not a field any more"


@pytest.mark.parametrize("kind", list(PlatformKind))
def test_keys_env_names_and_flags_are_unique_per_agent_type(kind: PlatformKind) -> None:
    keys = keys_for(kind)
    duplicates = Counter(k.key for k in keys) - Counter(set(k.key for k in keys))
    assert not duplicates
    envs = [name for k in keys for name in k.env]
    assert len(envs) == len(set(envs))
    flags = [k.flag.long for k in keys if k.flag] + [k.flag.short for k in keys if k.flag]
    flags = [f for f in flags if f]
    assert len(flags) == len(set(flags)), Counter(flags).most_common(3)
    assert "-h" not in flags


def test_prefect1_names_are_kept() -> None:
    by_field = {(k.section, k.field): k for k in all_keys()}
    assert by_field[(Section.AGENT, "labels")].env[0] == "PREFECT__CLOUD__AGENT__LABELS"
    assert by_field[(Section.AGENT, "log_level")].key == "cloud.agent.level"
    assert by_field[(Section.AGENT, "flow_log_level")].key == "logging.level"
    assert by_field[(Section.DOCKER, "base_url")].env == ("PREFECT__CONTEXT__BASE_URL",)
    namespace = by_field[(Section.KUBERNETES, "namespace")]
    assert namespace.env == ("PREFECT__AGENT__KUBERNETES__NAMESPACE", "NAMESPACE")
    assert by_field[(Section.DOCKER, "reg_allow_list")].flag is None


def test_the_api_key_and_aws_credentials_are_secrets_and_nothing_else_is() -> None:
    assert [k.key for k in all_keys() if k.secret] == [
        "cloud.api_key",
        "agent.ecs.aws_secret_access_key",
        "agent.ecs.aws_session_token",
        "context.secrets.aws_credentials",
    ]


def test_a_field_added_to_a_settings_class_gets_a_key_env_var_and_flag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @attrs.frozen(kw_only=True)
    class GrownDockerSettings(DockerSettings):
        pull_timeout: float = attrs.field(default=5.0, metadata={"help": "Seconds a pull takes."})
        gpus: bool = False
        cache: bool = True
        extra_labels: tuple[str, ...] = ()
        mode: Literal["fast", "safe"] = "safe"

    monkeypatch.setitem(SECTION_CLASSES, Section.DOCKER, GrownDockerSettings)
    keys = {k.key: k for k in keys_for(PlatformKind.DOCKER)}
    pull = keys["agent.docker.pull_timeout"]
    assert pull.env == ("PREFECT__AGENT__DOCKER__PULL_TIMEOUT",)
    assert pull.flag is not None and pull.flag.long == "--pull-timeout"
    assert (
        pull.kind is ValueKind.FLOAT
        and pull.help == "Seconds a pull takes."
        and pull.default == 5.0
    )
    gpus = keys["agent.docker.gpus"].flag
    assert gpus is not None and gpus.switch and not gpus.negatable
    cache = keys["agent.docker.cache"].flag
    assert cache is not None and cache.negatable
    extra = keys["agent.docker.extra_labels"]
    assert extra.kind is ValueKind.LIST and extra.flag is not None and extra.flag.multiple
    mode = keys["agent.docker.mode"]
    assert mode.kind is ValueKind.TEXT and mode.choices == ("fast", "safe")
    assert "agent.docker.pull_timeout" not in {k.key for k in keys_for(PlatformKind.LOCAL)}


def test_env_name_convention() -> None:
    assert (
        keys_module.env_name("agent.docker.pull_timeout") == "PREFECT__AGENT__DOCKER__PULL_TIMEOUT"
    )
