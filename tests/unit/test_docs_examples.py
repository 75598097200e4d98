"""The Python examples in README.md and docs/embedding.md run as written."""

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
