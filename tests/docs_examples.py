"""The fenced examples of README.md and docs/*.md, and how each is kept honest.

Every block names its language. ``text`` blocks are output, diagrams or error messages, not
examples. Every other block is run or checked by tests/unit/test_docs_examples.py (Python,
YAML, INI, TOML) or tests/e2e/test_docs_shell_examples.py (shell), unless an HTML comment on
the line just before its fence says otherwise:

    <!-- example: not run: <why it cannot run here> -->
    <!-- example: covered by tests/<path>.py [more files] [(why not here)] -->
                                                   (those tests run the same commands)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

LANGUAGES = {"python", "bash", "yaml", "toml", "ini", "dockerfile", "text"}
"""The language every fence must name; ``text`` is for what is not an example."""

_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", flags=re.S | re.M)
_NOTE = re.compile(r"<!--\s*example:\s*(.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    body: str
    note: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def not_run_reason(self) -> str | None:
        if self.note and self.note.startswith("not run:"):
            return self.note.removeprefix("not run:").strip()
        return None

    @property
    def covered_by(self) -> tuple[Path, ...]:
        if self.note and self.note.startswith("covered by "):
            files = self.note.removeprefix("covered by ").split(" (", 1)[0]  # then (why)
            return tuple(ROOT / name for name in files.split())
        return ()

    @property
    def runs_here(self) -> bool:
        return self.lang != "text" and self.note is None


def blocks(lang: str | None = None) -> list[Block]:
    found = []
    for path in DOC_FILES:
        text = path.read_text()
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            previous = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            note = _NOTE.search(previous)
            block = Block(
                path=path,
                line=line,
                lang=match.group(1).strip(),
                body=match.group(2),
                note=note.group(1) if note else None,
            )
            if lang is None or block.lang == lang:
                found.append(block)
    return found
