import pytest

from prefect_agent.domain.agent_address import AgentAddress
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.platform_kind import PlatformKind


def test_defaults_point_at_a_local_server():
    config = AgentConfig()
    assert config.api == "http://localhost:4200"
    assert config.kind is PlatformKind.LOCAL
    assert config.max_polls is None


def test_cloud_backend_defaults_to_the_cloud_api():
    assert AgentConfig(backend="cloud").api == "https://api.prefect.io"


def test_labels_keep_their_order_without_repeats_and_a_lone_string_is_one_label():
    assert AgentConfig(labels=["b", "a", "b"]).labels == ("b", "a")
    assert AgentConfig(labels="dev").labels == ("dev",)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tenant_id", "not-a-uuid", "tenant_id must be a UUID"),
        ("log_level", "LOUD", "log_level must be one of"),
        ("api", "localhost:4200", "api must be an http"),
        ("max_polls", -1, "max_polls must be zero or more"),
        ("env_vars", {"1BAD": "x"}, "not a valid environment variable name"),
        ("env_vars", {"A": 1}, "must be a string"),
        ("labels", ["ok", ""], "non-empty strings"),
        ("name", "", "name must be a non-empty string"),
        ("backend", "hosted", "backend must be 'server' or 'cloud'"),
        ("agent_address", "localhost:8080", "needs a scheme and a port"),
    ],
)
def test_invalid_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        AgentConfig(**{field: value})


def test_the_api_key_is_never_shown():
    config = AgentConfig(api_key="super-secret-key")
    assert "super-secret-key" not in repr(config)
    assert config.api_key is not None and config.api_key.reveal() == "super-secret-key"


def test_log_levels_are_case_insensitive():
    assert AgentConfig(log_level="debug").log_level == "DEBUG"


def test_platform_settings_choose_the_kind():
    assert AgentConfig(platform=DockerSettings()).kind is PlatformKind.DOCKER


def test_flow_run_command_accepts_a_string_or_a_list():
    assert AgentConfig(flow_run_command="run-it --now 'a b'").flow_run_command == (
        "run-it",
        "--now",
        "a b",
    )
    assert AgentConfig(flow_run_command=["x", "y"]).flow_run_command == ("x", "y")


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("http://:8080", "", 8080),
        ("http://127.0.0.1:9000", "127.0.0.1", 9000),
        ("http://[::1]:8080", "::1", 8080),
    ],
)
def test_agent_address_parsing(text, host, port):
    address = AgentAddress.parse(text)
    assert (address.host, address.port) == (host, port)


@pytest.mark.parametrize("text", ["http://localhost", "localhost:8080", "ftp://:21", "http://:x"])
def test_agent_address_errors(text):
    with pytest.raises(ValueError, match="agent address"):
        AgentAddress.parse(text)


@pytest.mark.parametrize(
    ("api", "shown"),
    [
        (
            "http://agent:s3cret@prefect.internal:4200/graphql",
            "http://prefect.internal:4200/graphql",
        ),
        ("https://token@api.example.com", "https://api.example.com"),
        ("http://localhost:4200", "http://localhost:4200"),
        ("http://agent:pa/ss@host:4200/x", "http://host:4200/x"),
        ("http://[fd00::1]:4200", "http://[fd00::1]:4200"),
    ],
)
def test_the_api_address_is_shown_without_credentials(api, shown):
    assert AgentConfig(api=api).api_display == shown


@pytest.mark.parametrize("api", ["ftp://agent:s3cret@host", "agent:s3cret@host:4200"])
def test_a_bad_api_address_error_hides_its_password(api):
    with pytest.raises(ValueError, match="host") as bad:
        AgentConfig(api=api)
    assert "s3cret" not in str(bad.value)
