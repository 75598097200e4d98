from prefect_agent.domain.states import (
    FINISHED_STATES,
    SCHEDULED_FAMILY,
    failed_state,
    is_finished,
    is_scheduled,
    submitted_state,
)


def test_the_scheduled_family():
    assert {"Scheduled", "Paused", "Queued", "Resume", "Retrying"} == SCHEDULED_FAMILY
    assert is_scheduled("Retrying") and not is_scheduled("Submitted")
    assert not SCHEDULED_FAMILY & FINISHED_STATES


def test_finished_states():
    assert is_finished("Success") and is_finished("Cancelled") and not is_finished("Running")


def test_submitted_embeds_the_previous_state_as_prefect_writes_it():
    previous = {"type": "Scheduled", "start_time": "2024-01-01T12:00:00+00:00"}
    state = submitted_state(previous)
    assert state["type"] == "Submitted"
    assert state["message"] == "Submitted for execution"
    assert state["state"] == previous
    assert state["_result"] == {"type": "NoResultType", "__version__": "1.4.1"}
    assert state["__version__"] == "1.4.1"


def test_failed_carries_the_message():
    assert failed_state("boom")["message"] == "boom"
