"""What the docs name (commands, their options, metrics and their label values) is what the code
exposes, both ways: a command, option or metric added without docs, or docs left behind by a
removal, fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from prefect_agent.cli.main import prefect

ROOT = Path(__file__).resolve().parents[2]
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))])


def commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


ALL = dict(commands(prefect))


def documented(path: tuple[str, ...]) -> list[int]:
    """Where the docs name the command (an agent command shared by every type may be written
    once as ``prefect agent <type> ...``)."""
    spellings = [f"prefect {' '.join(path)}"]
    if path[0] == "agent" and len(path) == 3:
        spellings.append(f"prefect agent <type> {path[2]}")
    return [m.start() for s in spellings for m in re.finditer(re.escape(s), DOCS)]


@pytest.mark.parametrize("path", sorted(ALL), ids=" ".join)
def test_every_command_is_documented(path: tuple[str, ...]) -> None:
    assert documented(path), f"prefect {' '.join(path)} is not in README.md or docs/"


# Agent start/config/explain options are the configuration keys: docs/configuration.md's
# generated table covers them (tests/unit/test_configuration_doc.py).
KEY_DRIVEN = {"start", "config", "explain"}


NEAR = 2500
"""How far after a mention of the command its option must be written (same table or section)."""


def options_to_document() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    found = []
    for path, command in ALL.items():
        if isinstance(command, click.Group) or (path[0] == "agent" and path[-1] in KEY_DRIVEN):
            continue
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                found.append((path, tuple(param.opts)))
    return found


@pytest.mark.parametrize(
    ("path", "opts"), options_to_document(), ids=lambda v: " ".join(v) if v else ""
)
def test_every_option_of_the_other_commands_is_documented(
    path: tuple[str, ...], opts: tuple[str, ...]
) -> None:
    pattern = re.compile("|".join(rf"{re.escape(o)}(?![\w-])" for o in opts))
    assert any(pattern.search(DOCS, start, start + NEAR) for start in documented(path)), (
        f"prefect {' '.join(path)} {'/'.join(opts)} is not documented near the command"
    )


def test_python_dash_m_is_documented() -> None:
    assert "python -m prefect_agent " in DOCS


def test_the_documented_metrics_are_the_exported_ones() -> None:
    from prefect_agent.adapters.health.error_kind import ERROR_KINDS
    from prefect_agent.adapters.health.metrics import AgentMetrics

    text = (ROOT / "docs/operations.md").read_text()
    documented = set(re.findall(r"^\| `(prefect_agent_\w+)` \|", text, flags=re.M))
    registry = AgentMetrics(agent_name="a", agent_type="LocalAgent").registry
    exported = set()
    for family in registry.collect():
        exported.add(family.name + ("_total" if family.type == "counter" else ""))
    assert documented == exported
    row = next(line for line in text.splitlines() if "`prefect_agent_api_errors_total`" in line)
    assert set(re.findall(r"`(\w+)`", row.split("|")[4])) == set(ERROR_KINDS)
    assert "_created" in text  # prometheus_client's creation-time series are mentioned
