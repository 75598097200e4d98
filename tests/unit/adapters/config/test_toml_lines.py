"""Finding the line of a key in TOML text."""

from __future__ import annotations

from prefect_agent.adapters.config.toml_lines import line_of

TEXT = """\
backend = "server"
[cloud]
api = "http://x:4200"   # comment
[cloud.agent]
  name = "a"
"labels" = ["x"]
[cloud.agent.env_vars]
A = "1"
[agent]
local.import_paths = ["/p"]
"""


def test_lines() -> None:
    assert line_of(TEXT, "backend") == 1
    assert line_of(TEXT, "cloud.api") == 3
    assert line_of(TEXT, "cloud.agent.name") == 5
    assert line_of(TEXT, "cloud.agent.labels") == 6
    assert line_of(TEXT, "agent.local.import_paths") == 10
    assert line_of(TEXT, "cloud.agent.env_vars") == 7
    assert line_of(TEXT, "server.port") is None


def test_a_key_inside_an_inline_table_reports_the_table_line() -> None:
    assert line_of('[cloud]\nagent = { name = "x" }\n', "cloud.agent.name") == 2
