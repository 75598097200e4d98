"""Lazarus: runs stuck in Submitted are scheduled again, then failed after three attempts."""

from prefect_agent.server.lazarus import RESCHEDULED, Lazarus
from prefect_agent.server.testing import running_server


def test_a_stuck_submitted_run_is_rescheduled_then_failed_after_three_attempts():
    with running_server() as api:
        stuck = api.create_run(labels=["dev"])
        running = api.create_run(labels=["dev"])
        api.set_state(running, "Submitted")
        api.set_state(running, "Running")
        lazarus = Lazarus(api.store, after_seconds=0)
        for attempt in range(1, 4):
            api.set_state(stuck, "Submitted")
            rescheduled, failed = lazarus.sweep()
            assert (rescheduled, failed) == ([stuck], [])
            assert api.state_of(stuck) == "Scheduled"
            assert f"{RESCHEDULED} This is attempt {attempt}." in [
                log["message"] for log in api.logs(stuck)
            ]
        api.set_state(stuck, "Submitted")
        assert lazarus.sweep() == ([], [stuck])
        assert api.state_of(stuck) == "Failed"
        assert api.state_of(running) == "Running"  # a Running run is never touched


def test_a_recent_submission_is_left_alone():
    with running_server() as api:
        run_id = api.create_run(labels=["dev"])
        api.set_state(run_id, "Submitted")
        assert Lazarus(api.store, after_seconds=600).sweep() == ([], [])
        assert api.state_of(run_id) == "Submitted"
