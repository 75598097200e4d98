"""The generated key table and docs/configuration.md."""

from __future__ import annotations

from pathlib import Path

from prefect_agent.adapters.config.keys import PREFECT1_NAMES, all_keys
from prefect_agent.adapters.config.reference_table import markdown

DOC = Path(__file__).parents[4] / "docs" / "configuration.md"


def test_the_table_has_a_row_per_key() -> None:
    rows = markdown().splitlines()[2:]
    assert len(rows) == len(all_keys())
    assert any(
        row.startswith("| `agent.kubernetes.namespace` | kubernetes |")
        and "`NAMESPACE`" in row
        and "`--namespace`" in row
        for row in rows
    )
    assert any("`--no-cloud-logs` (sets false)" in row for row in rows)


def test_the_docs_name_every_prefect1_key_variable_and_flag() -> None:
    text = DOC.read_text()
    by_field = {(k.section, k.field): k for k in all_keys()}
    for section_field in PREFECT1_NAMES:
        key = by_field[section_field]
        assert f"`{key.key}`" in text, key.key
        for name in key.env:
            assert f"`{name}`" in text, name
        if key.flag is not None:
            assert key.flag.long in text, key.flag.long
    assert "defaults to `server`" in text
