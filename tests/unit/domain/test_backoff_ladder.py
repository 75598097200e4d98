from prefect_agent.domain.backoff_ladder import BACKOFF_LADDER, PollInterval, backoff_delay


def test_empty_polls_climb_the_ladder_and_stay_at_the_top():
    interval, seen = PollInterval(), []
    for _ in range(9):
        interval = interval.after_poll(found_runs=False)
        seen.append(interval.seconds)
    assert seen == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]


def test_a_poll_that_found_runs_resets_to_the_first_step():
    interval = PollInterval(step=5).after_poll(found_runs=True)
    assert interval.seconds == BACKOFF_LADDER[0] == 0.25


def test_retry_delays_climb_the_ladder_and_stay_at_the_top():
    assert [backoff_delay(attempt) for attempt in range(9)] == [
        0.25,
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        10.0,
        10.0,
        10.0,
    ]
