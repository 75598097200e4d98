"""The Python examples in README.md and docs/*.md run as written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("doc", ["README.md", "docs/embedding.md"])
def test_examples_run(doc):
    blocks = python_blocks(ROOT / doc)
    assert blocks, f"{doc} has no Python example"
    for block in blocks:
        if "LocalAgent(" in block:
            continue  # starts a real agent against an API: exercised by the end-to-end tests
        exec(compile(block, doc, "exec"), {})


def test_the_testing_guide_example_passes_with_a_fake_platform():
    from prefect_agent.testing import FakePlatform

    (block,) = python_blocks(ROOT / "docs/testing.md")
    namespace: dict[str, object] = {}
    exec(compile(block, "docs/testing.md", "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert tests
    for test in tests:
        test(FakePlatform())  # type: ignore[operator]
