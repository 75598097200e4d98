"""The domain imports nothing but the standard library and attrs."""

import ast
import sys
from pathlib import Path

import prefect_agent.domain

DOMAIN = Path(prefect_agent.domain.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module)
    return roots


def test_domain_imports_only_stdlib_attrs_and_itself():
    offenders = {}
    for path in DOMAIN.rglob("*.py"):
        for name in imported_roots(path):
            top = name.split(".")[0]
            if name.startswith("prefect_agent.domain") or top == "__future__":
                continue
            if top == "attrs" or top in sys.stdlib_module_names:
                continue
            offenders.setdefault(path.name, []).append(name)
    assert offenders == {}
