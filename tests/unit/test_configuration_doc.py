"""docs/configuration.md lists every configuration key as the code derives them."""

from pathlib import Path

from prefect_agent.adapters.config.reference_table import markdown

ROOT = Path(__file__).resolve().parents[2]


def test_the_key_table_in_the_docs_is_current():
    table = markdown().strip()
    assert table in (ROOT / "docs" / "configuration.md").read_text(), (
        "regenerate the table: python -m prefect_agent.adapters.config.reference_table"
    )
