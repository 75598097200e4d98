"""FlowLogStream holds at most one capped partial line per run, however a run writes."""

from __future__ import annotations

import io
from pathlib import Path

from prefect_agent.adapters.local.flow_log_stream import FlowLogStream
from prefect_agent.domain.output_lines import MAX_LINE_BYTES


def test_a_line_without_end_is_cut_instead_of_growing(tmp_path: Path) -> None:
    path = tmp_path / "run.out"
    path.write_bytes(b"")
    sink = io.StringIO()
    stream = FlowLogStream(sink, mask=lambda text: text.replace("s3cret", "***"))
    stream.follow("run", path, "r")
    with open(path, "ab") as out:
        for _ in range(5):  # five reads of 2 MB each, no newline anywhere
            out.write(b"s3cret" + b"y" * (2 * 1024 * 1024))
            out.flush()
            for _ in range(4):
                stream.pump()
            held = stream._followed["run"].lines.pending
            assert held <= MAX_LINE_BYTES
    stream.finish("run")
    lines = sink.getvalue().splitlines()
    assert lines and all(len(line) <= MAX_LINE_BYTES + len("[r] ") for line in lines)
    assert "s3cret" not in sink.getvalue() and lines[0].startswith("[r] ***yyy")
