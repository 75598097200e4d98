"""Docker settings: choices are validated, --no-pull wins over the pull policy."""

from __future__ import annotations

import attrs
import pytest

from prefect_agent.domain.docker_settings import DockerSettings


def test_no_pull_wins_over_the_pull_policy() -> None:
    assert DockerSettings().effective_pull_policy == "Prefect1"
    assert DockerSettings(pull_policy="Always").effective_pull_policy == "Always"
    assert DockerSettings(no_pull=True, pull_policy="Always").effective_pull_policy == "Never"


@pytest.mark.parametrize(
    ("field", "value"), [("pull_policy", "sometimes"), ("container_removal", "later")]
)
def test_unknown_choices_name_the_field_and_the_choices(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be one of .* not '{value}'"):
        DockerSettings(**{field: value})


def test_every_field_has_one_line_of_help() -> None:
    for field in attrs.fields(DockerSettings):
        help_text = field.metadata.get("help", "")
        assert help_text and "\n" not in help_text, field.name
