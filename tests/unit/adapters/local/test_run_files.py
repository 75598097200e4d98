"""The state directory's records, output tails, streaming of output, process identity."""

from __future__ import annotations

import io
import os
from pathlib import Path

from prefect_agent.adapters.local.flow_log_stream import FlowLogStream
from prefect_agent.adapters.local.output_tail import last_lines
from prefect_agent.adapters.local.process_identity import (
    ProcessIdentity,
    parent_pid,
    start_ticks,
)
from prefect_agent.adapters.local.run_records import RunRecord, RunRecords


def test_a_record_round_trips_and_is_removed_with_its_output(tmp_path: Path) -> None:
    records = RunRecords(tmp_path / "state")
    record = RunRecord(run_id="abc-1", run_name="n", process=ProcessIdentity(42, 7, "boot"))
    records.write(record)
    os.close(records.open_output("abc-1"))
    assert records.read("abc-1") == record
    assert list(records.all()) == [record]
    records.remove("abc-1")
    assert records.read("abc-1") is None
    assert list((tmp_path / "state").iterdir()) == []


def test_an_unreadable_record_is_skipped(tmp_path: Path) -> None:
    records = RunRecords(tmp_path)
    (tmp_path / "broken.json").write_text("{not json")
    good = RunRecord(run_id="good", run_name="g", process=ProcessIdentity(1, None, None))
    records.write(good)
    assert list(records.all()) == [good]


def test_a_run_id_that_is_not_a_safe_file_name_is_hashed(tmp_path: Path) -> None:
    records = RunRecords(tmp_path)
    path = records.record_path("../../etc/passwd")
    assert path.parent == tmp_path
    assert path.name.startswith("run-")


def test_last_lines_keeps_the_end_and_skips_blank_lines(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("".join(f"line {i}\n\n" for i in range(5000)))
    assert last_lines(out, 3) == ("line 4997", "line 4998", "line 4999")
    assert last_lines(tmp_path / "missing", 3) == ()
    assert last_lines(out, 0) == ()


def test_the_stream_writes_whole_lines_with_the_prefix(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_bytes(b"")
    sink = io.StringIO()
    stream = FlowLogStream(sink)
    stream.follow("r1", out, "run-one")
    with open(out, "ab") as writer:
        writer.write(b"one\ntw")
        writer.flush()
        stream.pump()
        assert sink.getvalue() == "[run-one] one\n"
        writer.write(b"o\r\nthree")
    stream.pump()
    stream.finish("r1")
    assert sink.getvalue().splitlines() == ["[run-one] one", "[run-one] two", "[run-one] three"]
    assert len(stream) == 0


def test_a_closed_sink_does_not_break_the_stream(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_bytes(b"x\n")
    sink = io.StringIO()
    stream = FlowLogStream(sink)
    stream.follow("r", out, "r")
    sink.close()
    stream.pump()  # the write fails; the stream does not raise and keeps following the run
    assert len(stream) == 1
    stream.finish("r")
    assert len(stream) == 0


def test_process_identity_of_this_process() -> None:
    me = ProcessIdentity.of(os.getpid())
    assert me.started == start_ticks(os.getpid())
    assert me.is_running()
    assert parent_pid(os.getpid()) == os.getppid()
    assert not ProcessIdentity(pid=2**22 + 12345, started=None, boot=me.boot).is_running()
