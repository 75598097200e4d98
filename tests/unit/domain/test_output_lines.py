"""Cutting a run's output into lines (\\r too, partial lines capped) and masking secrets."""

from __future__ import annotations

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.output_lines import LineSplitter, Masker, split_lines
from prefect_agent.domain.secret import MASK


def test_carriage_returns_end_lines_and_crlf_is_one_end() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b" 10%\r 20%\r") == [" 10%", " 20%"]
    assert splitter.feed(b"\ndone\r") == ["done"]  # \r\n split across two chunks: one end
    assert splitter.feed(b"\nnext\n\nlast") == ["next", ""]
    assert splitter.finish() == ["last"]


def test_a_progress_bar_without_newline_holds_no_memory() -> None:
    splitter = LineSplitter()
    for step in range(100_000):
        splitter.feed(f"\rprogress {step:6d} {'#' * 50}".encode())
        assert splitter.pending < 100
    assert splitter.finish() == [f"progress  99999 {'#' * 50}"]


def test_a_partial_line_is_cut_at_the_cap() -> None:
    splitter = LineSplitter(max_line=1000)
    lines = []
    for _ in range(50):
        lines += splitter.feed(b"x" * 999)
        assert splitter.pending <= 1000
    assert all(len(line) == 1000 for line in lines) and len(lines) == 49


def test_split_lines_over_chunks() -> None:
    assert list(split_lines([b"a\r", b"\nb", b"c\rd"])) == ["a", "bc", "d"]


def test_the_masker_hides_every_shape_of_the_agents_secrets() -> None:
    config = AgentConfig(
        api="https://alice:p%40ss-word@prefect.example.com",
        api_key="pcu_key_123456",
        tenant_id="6f0e5c1e-6a5c-4a2b-9c39-6b1f1c0b7a11",
    )
    mask = Masker(config.secrets)
    text = (
        "key=pcu_key_123456 api=https://alice:p%40ss-word@prefect.example.com "
        "pw=p@ss-word tenant=6f0e5c1e-6a5c-4a2b-9c39-6b1f1c0b7a11"
    )
    masked = mask(text)
    for secret in ("pcu_key_123456", "p%40ss-word", "p@ss-word", "6f0e5c1e"):
        assert secret not in masked
    assert masked.count(MASK) == 4 and "prefect.example.com" in masked


def test_short_values_are_not_masked() -> None:
    assert Masker(["ab", ""])("abcabc") == "abcabc"
