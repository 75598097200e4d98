from datetime import timedelta

from prefect_agent.services.in_flight import InFlightRuns
from prefect_agent.services.timer_queue import TimerQueue
from prefect_agent.testing.clock import EPOCH


def test_items_come_out_due_and_in_order():
    queue = TimerQueue()
    queue.push(EPOCH + timedelta(seconds=2), "b")
    queue.push(EPOCH + timedelta(seconds=1), "a")
    queue.push(EPOCH + timedelta(seconds=2), "c")
    assert queue.next_due() == EPOCH + timedelta(seconds=1)
    assert queue.pop_due(EPOCH) == []
    assert queue.pop_due(EPOCH + timedelta(seconds=2)) == ["a", "b", "c"]
    assert queue.next_due() is None


def test_drain_returns_everything():
    queue = TimerQueue()
    queue.push(EPOCH + timedelta(days=1), "x")
    assert queue.drain() == ["x"] and len(queue) == 0


def test_in_flight_reserves_each_id_once_and_signals_idle():
    runs = InFlightRuns()
    assert runs.idle.is_set()
    assert runs.reserve(["a", "b"]) == ["a", "b"]
    assert runs.reserve(["b", "c"]) == ["c"]
    assert not runs.idle.is_set()
    for run_id in "abc":
        runs.release(run_id)
    assert runs.idle.is_set() and len(runs) == 0
