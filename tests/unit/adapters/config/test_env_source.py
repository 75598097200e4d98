"""The environment layer: PREFECT__* variables and the Kubernetes agent's bare ones."""

from __future__ import annotations

import pytest

from prefect_agent.adapters.config import DefaultsSource, EnvSource, resolve
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.platform_kind import PlatformKind

LOCAL, KUBERNETES = PlatformKind.LOCAL, PlatformKind.KUBERNETES


def config_from(kind: PlatformKind, environ: dict[str, str]):  # type: ignore[no-untyped-def]
    return resolve(kind, [DefaultsSource(kind), EnvSource(kind, environ)]).config


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ('["dev", "staging"]', ("dev", "staging")),
        ("['dev']", ("dev",)),
        ("dev", ("dev",)),
        ("dev,staging", ("dev", "staging")),
    ],
)
def test_labels_as_prefect1_users_write_them(text: str, labels: tuple[str, ...]) -> None:
    assert config_from(LOCAL, {"PREFECT__CLOUD__AGENT__LABELS": text}).labels == labels


def test_env_vars_json_with_true_false_null_works() -> None:
    env = {"PREFECT__CLOUD__AGENT__ENV_VARS": '{"A": true, "B": null, "C": "x"}'}
    assert dict(config_from(LOCAL, env).env_vars) == {"A": "true", "B": "null", "C": "x"}


def test_list_items_expand_home_and_variables_each() -> None:
    config = config_from(
        LOCAL,
        {
            "HOME": "/home/u",
            "LIB": "/opt/lib",
            "PREFECT__AGENT__LOCAL__IMPORT_PATHS": '["~/flows", "$LIB"]',
        },
    )
    assert config.platform.import_paths == ("/home/u/flows", "/opt/lib")


def test_a_variable_holding_a_comma_stays_one_item() -> None:
    config = config_from(LOCAL, {"ODD": "/a,b", "PREFECT__AGENT__LOCAL__IMPORT_PATHS": "$ODD"})
    assert config.platform.import_paths == ("/a,b",)


def test_a_numeric_name_stays_a_string() -> None:
    assert config_from(LOCAL, {"PREFECT__CLOUD__AGENT__NAME": "123"}).name == "123"


def test_variable_names_are_case_insensitive_after_the_prefix() -> None:
    assert config_from(LOCAL, {"prefect__cloud__agent__name": "lower"}).name == "lower"


def test_kubernetes_bare_variables() -> None:
    config = config_from(
        KUBERNETES,
        {
            "NAMESPACE": "flows",
            "SERVICE_ACCOUNT_NAME": "",
            "IMAGE_PULL_SECRETS": "regcred, other",
            "DELETE_FINISHED_JOBS": "false",
        },
    )
    assert config.platform.namespace == "flows"
    assert config.platform.service_account_name is None
    assert config.platform.image_pull_secrets == ("regcred", "other")
    assert config.platform.delete_finished_jobs is False


@pytest.mark.parametrize(("text", "value"), [("True", True), ("true", True), ("False", False)])
def test_delete_finished_jobs_reads_any_case(text: str, value: bool) -> None:
    config = config_from(KUBERNETES, {"DELETE_FINISHED_JOBS": text})
    assert config.platform.delete_finished_jobs is value


def test_the_prefect_variable_wins_over_the_bare_one() -> None:
    source = EnvSource(
        KUBERNETES, {"NAMESPACE": "bare", "PREFECT__AGENT__KUBERNETES__NAMESPACE": "prefixed"}
    )
    assert source.values()["agent.kubernetes.namespace"] == "prefixed"
    assert (
        source.origin("agent.kubernetes.namespace") == "env PREFECT__AGENT__KUBERNETES__NAMESPACE"
    )


def test_bare_kubernetes_variables_mean_nothing_to_a_local_agent() -> None:
    assert dict(EnvSource(LOCAL, {"NAMESPACE": "x", "DELETE_FINISHED_JOBS": "no"}).values()) == {}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"PREFECT__CLOUD__TENANT_ID": "not-a-uuid"},
            "env PREFECT__CLOUD__TENANT_ID: cloud.tenant_id: tenant_id must be a UUID, "
            "got 'not-a-uuid'",
        ),
        (
            {"PREFECT__CLOUD__AGENT__LEVEL": "LOUD"},
            "env PREFECT__CLOUD__AGENT__LEVEL: cloud.agent.level: log_level must be one of "
            "DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'",
        ),
        (
            {"PREFECT__CLOUD__AGENT__AGENT_ADDRESS": "localhost:8080"},
            "env PREFECT__CLOUD__AGENT__AGENT_ADDRESS: cloud.agent.agent_address: agent address "
            "'localhost:8080' needs a scheme and a port, e.g. http://:8080 or "
            "http://127.0.0.1:8080",
        ),
        (
            {"PREFECT__CLOUD__AGENT__AGENT_ADDRESS": "http://0.0.0.0"},
            "env PREFECT__CLOUD__AGENT__AGENT_ADDRESS: cloud.agent.agent_address: agent address "
            "'http://0.0.0.0' must specify a port, e.g. http://:8080",
        ),
        (
            {"PREFECT__CLOUD__AGENT__ENV_VARS": "A=1"},
            "env PREFECT__CLOUD__AGENT__ENV_VARS: cloud.agent.env_vars: expected a JSON object "
            'such as {"KEY": "value"}, got \'A=1\'',
        ),
        (
            {"PREFECT__CLOUD__SEND_FLOW_RUN_LOGS": "sometimes"},
            "env PREFECT__CLOUD__SEND_FLOW_RUN_LOGS: cloud.send_flow_run_logs: expected "
            "true/false, yes/no, on/off or 1/0, got 'sometimes'",
        ),
        (
            {"PREFECT__BACKEND": "saas"},
            "env PREFECT__BACKEND: backend: backend must be 'server' or 'cloud', not 'saas'",
        ),
    ],
)
def test_bad_values_name_variable_key_and_value(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from(LOCAL, environ)
    assert str(caught.value) == message


def test_an_api_address_without_scheme_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from(LOCAL, {"PREFECT__CLOUD__API": "localhost:4200"})
    assert str(caught.value).startswith("env PREFECT__CLOUD__API: cloud.api: ")
    assert "'localhost:4200'" in str(caught.value)
