"""Every fenced example of README.md and docs/*.md is run or checked, or says why it is not
(tests/docs_examples.py has the rules). Python and shell examples run in
tests/e2e/test_docs_shell_examples.py, against a real embedded API; this module checks the
rules themselves and the examples that need no process (YAML, INI, TOML)."""

from __future__ import annotations

import configparser
import re
import sys

import pytest
import yaml

from tests.docs_examples import LANGUAGES, ROOT, Block, blocks

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the project's own fallback on 3.10
    import tomli as tomllib

ALL = blocks()


def by_where(items: list[Block]) -> dict[str, Block]:
    return {block.where: block for block in items}


def test_the_docs_have_examples_of_every_kind_we_check() -> None:
    assert {b.lang for b in ALL} >= {"python", "bash", "yaml", "text"}


@pytest.mark.parametrize("block", ALL, ids=lambda b: b.where)
def test_every_block_names_its_language(block: Block) -> None:
    assert block.lang in LANGUAGES, (
        f"{block.where}: fence language {block.lang!r}; use one of {sorted(LANGUAGES)} "
        "(text for output, diagrams and messages)"
    )


@pytest.mark.parametrize("block", [b for b in ALL if b.note], ids=lambda b: b.where)
def test_every_exemption_gives_its_reason(block: Block) -> None:
    if block.not_run_reason is not None:
        assert len(block.not_run_reason) > 10, f"{block.where}: say why it is not run"
        return
    covering = block.covered_by
    assert covering, f"{block.where}: unknown note {block.note!r}"
    missing = [str(path) for path in covering if not path.is_file()]
    assert not missing, f"{block.where}: {missing} do not exist"
    test_source = "\n".join(path.read_text() for path in covering)
    # Each `prefect a b` of the example is run by those tests: as words or as argv items.
    for found in re.finditer(
        r"\bprefect(?:-agent)? ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", block.body
    ):
        words = [w for w in found.groups() if w]
        as_argv = ", ".join(f'"{w}"' for w in words)
        assert " ".join(words) in test_source or as_argv in test_source, (
            f"{block.where}: {block.note} does not run `prefect {' '.join(words)}`"
        )


# What the sandbox must never do to the machine running the tests.
UNSAFE = re.compile(r"\b(pip install|apt-get|docker push|kubectl|sudo)\b")


@pytest.mark.parametrize(
    "block", [b for b in ALL if b.lang == "bash" and b.runs_here], ids=lambda b: b.where
)
def test_shell_examples_run_here_change_nothing_outside_their_sandbox(block: Block) -> None:
    found = UNSAFE.search(block.body)
    assert found is None, (
        f"{block.where} runs `{found and found.group(0)}`: give it a note (covered by / not run)"
    )


@pytest.mark.parametrize(
    "block", [b for b in ALL if b.lang == "ini" and b.runs_here], ids=lambda b: b.where
)
def test_ini_examples_parse(block: Block) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(block.body, source=block.where)
    assert parser.sections()


@pytest.mark.parametrize(
    "block", [b for b in ALL if b.lang == "toml" and b.runs_here], ids=lambda b: b.where
)
def test_toml_examples_are_valid_agent_configuration(block: Block, tmp_path) -> None:
    from prefect_agent.adapters.config import FileSource
    from prefect_agent.domain.platform_kind import PlatformKind

    assert tomllib.loads(block.body)
    path = tmp_path / "config.toml"
    path.write_text(block.body)
    for kind in PlatformKind:
        FileSource(str(path), kind, environ={"HOME": str(tmp_path)}).values()


@pytest.mark.parametrize(
    "block", [b for b in ALL if b.lang == "yaml" and b.runs_here], ids=lambda b: b.where
)
def test_yaml_examples_are_valid_kubernetes_objects(block: Block) -> None:
    import kubernetes_validate

    for document in yaml.safe_load_all(block.body):
        if "apiVersion" not in document:
            # A pod spec fragment (containers: ...): checked as the spec of a Pod.
            document = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "example"},
                "spec": document,
            }
        kubernetes_validate.validate(document, "1.30", strict=True)


def test_the_rules_module_sees_every_doc() -> None:
    assert {b.path.name for b in ALL} >= {"README.md", "testing.md", "embedding.md"}
    assert all(p.is_relative_to(ROOT) for p in {b.path for b in ALL})
