from prefect_agent.domain.poll_schedule import BACKOFF_LADDER, PollSchedule


def test_empty_polls_climb_the_ladder_and_stay_at_the_top():
    schedule, seen = PollSchedule(), []
    for _ in range(9):
        schedule = schedule.after_poll(found_runs=False)
        seen.append(schedule.interval)
    assert seen == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]


def test_a_poll_that_found_runs_resets_to_the_first_step():
    schedule = PollSchedule(step=5).after_poll(found_runs=True)
    assert schedule.interval == BACKOFF_LADDER[0] == 0.25
