"""Text values read the way Prefect 1 users write them, without Prefect 1's misreadings."""

from __future__ import annotations

import pytest

from prefect_agent.adapters.config.keys import ConfigKey, Section, ValueKind
from prefect_agent.adapters.config.text_values import (
    BadText,
    parse_assignment,
    parse_text,
)


def key(kind: ValueKind, optional: bool = False) -> ConfigKey:
    return ConfigKey(
        key="k",
        section=Section.AGENT,
        field="k",
        kind=kind,
        optional=optional,
        env=("K",),
        flag=None,
        help="",
    )


LIST, MAPPING = key(ValueKind.LIST), key(ValueKind.MAPPING)


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ('["dev", "staging"]', ["dev", "staging"]),
        ("['dev']", ["dev"]),
        ("('a', 'b')", ["a", "b"]),
        ("dev", ["dev"]),
        ("dev,staging", ["dev", "staging"]),
        (" dev , staging ", ["dev", "staging"]),
        ("", []),
        ("[]", []),
        ("[1, 2]", ["1", "2"]),
    ],
)
def test_labels(text: str, labels: list[str]) -> None:
    assert parse_text(LIST, text) == labels


def test_a_list_of_lists_is_refused() -> None:
    with pytest.raises(BadText, match="list of strings"):
        parse_text(LIST, '[["a"]]')


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ('{"A": "1"}', {"A": "1"}),
        ("{'A': '1'}", {"A": "1"}),
        (
            '{"DEBUG": true, "QUIET": false, "NONE": null, "N": 3}',
            {"DEBUG": "true", "QUIET": "false", "NONE": "null", "N": "3"},
        ),
        ("", {}),
    ],
)
def test_env_vars(text: str, env: dict[str, str]) -> None:
    assert parse_text(MAPPING, text) == env


@pytest.mark.parametrize("text", ["A=1", "[1]", '{"A": {"nested": 1}}'])
def test_env_vars_must_be_an_object_of_scalars(text: str) -> None:
    with pytest.raises(BadText):
        parse_text(MAPPING, text)


def test_a_numeric_text_stays_text() -> None:
    assert parse_text(key(ValueKind.TEXT), "123") == "123"


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("False", False), ("1", True), ("off", False)]
)
def test_booleans(text: str, value: bool) -> None:
    assert parse_text(key(ValueKind.BOOL), text) is value


def test_bad_boolean_and_numbers() -> None:
    with pytest.raises(BadText, match="expected true/false, yes/no, on/off or 1/0, got 'maybe'"):
        parse_text(key(ValueKind.BOOL), "maybe")
    with pytest.raises(BadText, match="expected an integer, got 'ten'"):
        parse_text(key(ValueKind.INT), "ten")
    with pytest.raises(BadText, match="expected a number, got 'x'"):
        parse_text(key(ValueKind.FLOAT), "x")


def test_empty_text_is_unset_for_optional_keys() -> None:
    assert parse_text(key(ValueKind.TEXT, optional=True), "") is None
    assert parse_text(key(ValueKind.INT, optional=True), " ") is None


def test_commands_from_a_shell_line_or_a_json_list() -> None:
    command = key(ValueKind.COMMAND)
    assert parse_text(command, "python -m 'my flows' run") == ["python", "-m", "my flows", "run"]
    assert parse_text(command, '["a b", "c"]') == ["a b", "c"]
    with pytest.raises(BadText, match="cannot split"):
        parse_text(command, "python 'unclosed")


def test_json_values() -> None:
    assert parse_text(key(ValueKind.JSON), '[{"name": "v"}]') == [{"name": "v"}]
    with pytest.raises(BadText, match="expected JSON"):
        parse_text(key(ValueKind.JSON), "{not json")


def test_assignments_split_on_the_first_equals_sign() -> None:
    assert parse_assignment("A=b=c") == ("A", "b=c")
    assert parse_assignment("A=") == ("A", "")
    with pytest.raises(BadText, match="expected KEY=VALUE, got 'FOO'"):
        parse_assignment("FOO")
    with pytest.raises(BadText):
        parse_assignment("=x")
