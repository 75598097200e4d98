"""Files of finished runs are emptied and renamed into place for later runs, within a bound."""

from __future__ import annotations

import os
from pathlib import Path

from prefect_agent.adapters.local.process_identity import ProcessIdentity
from prefect_agent.adapters.local.run_records import RunRecord, RunRecords
from prefect_agent.adapters.local.spare_files import SpareFiles


def _run(records: RunRecords, run_id: str) -> None:
    """What a launch and its end leave behind: output, record and verdict."""
    fd = records.open_output(run_id)
    os.write(fd, b"secret output\n")
    os.close(fd)
    records.write(RunRecord(run_id=run_id, run_name="n", process=ProcessIdentity(1, 2, "b")))
    records.write_verdict(run_id, {"succeeded": True})


def test_a_finished_runs_record_and_verdict_are_reused_empty(tmp_path: Path) -> None:
    records = RunRecords(tmp_path / "state")
    records.ensure()
    _run(records, "run-1")
    records.remove("run-1")
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["spare"]
    spares = list((tmp_path / "state" / "spare").iterdir())
    # Record and verdict, emptied; never the output (a process may still write to it).
    assert len(spares) == 2 and all(p.stat().st_size == 0 for p in spares)

    inodes = {p.stat().st_ino for p in spares}
    _run(records, "run-2")
    used = {
        records.record_path("run-2").stat().st_ino,
        records.verdict_path("run-2").stat().st_ino,
    }
    assert used == inodes
    assert records.output_path("run-2").stat().st_ino not in inodes
    assert len(records.spares) == 0
    assert records.read("run-2") == RunRecord(
        run_id="run-2", run_name="n", process=ProcessIdentity(1, 2, "b")
    )
    assert records.output_path("run-2").read_bytes() == b"secret output\n"


def test_adopting_twice_counts_each_spare_once(tmp_path: Path) -> None:
    records = RunRecords(tmp_path / "state")
    records.ensure()
    _run(records, "run-1")
    records.remove("run-1")
    records.ensure()  # as after the state directory's files were found missing
    assert len(records.spares) == 2


def test_the_pool_is_bounded_and_the_rest_deleted(tmp_path: Path) -> None:
    pool = SpareFiles(tmp_path / "spare", keep=2)
    pool.adopt()
    for index in range(5):
        path = tmp_path / f"f{index}"
        path.write_text("x")
        pool.give(path)
        assert not path.exists()
    assert len(pool) == 2
    assert len(list((tmp_path / "spare").iterdir())) == 2
    pool.give(tmp_path / "missing")  # nothing to give: no error, nothing kept
    assert len(pool) == 2


def test_a_restarted_agent_reuses_the_spares_left_behind(tmp_path: Path) -> None:
    records = RunRecords(tmp_path / "state")
    records.ensure()
    _run(records, "run-1")
    records.remove("run-1")
    again = RunRecords(tmp_path / "state")
    again.ensure()
    assert len(again.spares) == 2
    target = tmp_path / "state" / "new"
    assert again.spares.take(target) and target.exists()


def test_a_spare_removed_by_hand_is_skipped(tmp_path: Path) -> None:
    pool = SpareFiles(tmp_path / "spare")
    pool.adopt()
    for name in ("a", "b"):
        (tmp_path / name).write_text("")
        pool.give(tmp_path / name)
    for spare in (tmp_path / "spare").iterdir():
        spare.unlink()
    assert not pool.take(tmp_path / "target")
    assert len(pool) == 0
