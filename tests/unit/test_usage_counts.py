"""The distinct-user counts of usage.py are exact: for any sequence of usage events (any
order, late ones, duplicates of a user's day) they equal a naive set computation over every
event folded so far."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import UsageEvent
from workers.core.engine import new_state
from workers.core.fold import fold_usage
from workers.core.metrics import compute_metrics
from workers.core.state import DAY, AccountState, to_dt
from workers.core.testing import default_rules
from workers.core.usage import MONTH, WEEK, WEEK_CLOSED_DAYS, users_in_window

RULES = default_rules()
BASE_DAY = 20_500  # an epoch day in 2026

usage_events = st.lists(
    st.tuples(
        st.integers(0, 11),  # user
        st.integers(0, 100),  # day: spans more than the 62 retained days and the masks
        st.integers(0, DAY - 1),  # second of the day
    ),
    min_size=1,
    max_size=120,
)
# Mostly forward in time with late stragglers, or entirely shuffled.
orders = st.sampled_from(["as drawn", "by day", "by day, late tail"])


def _naive(active: set[tuple[int, int]], end: int, length: int) -> int:
    return len({user for user, day in active if end - length < day <= end})


def _check(state: AccountState, active: set[tuple[int, int]], evaluation_day: int) -> None:
    usage = state.usage
    yesterday = evaluation_day - 1
    got = (
        users_in_window(usage, yesterday, WEEK),
        users_in_window(usage, yesterday - WEEK, WEEK),
        users_in_window(usage, yesterday, MONTH),
    )
    want = (
        _naive(active, yesterday, WEEK),
        _naive(active, yesterday - WEEK, WEEK),
        _naive(active, yesterday, MONTH),
    )
    assert got == want, f"evaluated on day {evaluation_day - BASE_DAY}: {got} != {want}"
    # The 7-day windows of the last 57 days (what usage_drop's 7-week decline reads) too.
    assert usage.newest is not None
    for end in range(usage.newest - WEEK_CLOSED_DAYS, yesterday + 1):
        assert users_in_window(usage, end, WEEK) == _naive(active, end, WEEK), (
            f"7 days ending on day {end - BASE_DAY}, newest {usage.newest - BASE_DAY}"
        )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(usage_events, orders, st.data())
def test_window_counts_equal_a_naive_set_computation(events, order, data) -> None:
    if order == "by day":
        events = sorted(events, key=lambda e: (e[1], e[2]))
    elif order == "by day, late tail":
        cut = data.draw(st.integers(0, len(events)))
        events = sorted(events[:cut], key=lambda e: (e[1], e[2])) + events[cut:]
    state = new_state("acc")
    active: set[tuple[int, int]] = set()  # (user, day) of every event folded so far
    for i, (user, day, second) in enumerate(events):
        ts = (BASE_DAY + day) * DAY + second
        event = UsageEvent(
            event_id=f"e{i}",
            account_id="acc",
            occurred_at=to_dt(ts),
            user_id=f"user-{user}",
            feature="reports",
        )
        if fold_usage(state, event, RULES, ts):
            active.add((user, BASE_DAY + day))
        newest = state.usage.newest
        assert newest is not None
        # The engine evaluates on the newest folded day or later.
        for evaluation_day in (newest, newest + 1, newest + 8):
            _check(state, active, evaluation_day)
    newest = state.usage.newest
    assert newest is not None
    for evaluation_day in range(newest - 20, newest + 40):
        _check(state, active, evaluation_day)
    # And the metrics read exactly these counts.
    today = newest + data.draw(st.integers(1, 35))  # a completed day (no metrics before)
    m = compute_metrics(state, today * DAY + 3600, RULES)
    assert m["active_users_7d"] == _naive(active, today - 1, WEEK)
    assert m["active_users_prev_7d"] == _naive(active, today - 8, WEEK)
    assert m["active_users_30d"] == _naive(active, today - 1, MONTH)


def test_a_late_event_of_a_user_already_counted_in_the_window_is_not_counted_twice() -> None:
    state = new_state("acc")

    def use(user: str, day: int) -> None:
        ts = (BASE_DAY + day) * DAY + 36_000
        event = UsageEvent(
            event_id=f"{user}-{day}",
            account_id="acc",
            occurred_at=to_dt(ts),
            user_id=user,
            feature="reports",
        )
        assert fold_usage(state, event, RULES, ts)

    use("a", 1)
    use("a", 3)
    use("b", 3)
    use("c", 9)  # closes days 3..8
    closed = state.usage.closed
    assert closed[BASE_DAY + 3] == [2, 2] and closed[BASE_DAY + 8] == [2, 2]
    use("a", 2)  # late: a is already in every window containing day 2
    assert closed[BASE_DAY + 3] == [2, 2] and closed[BASE_DAY + 8] == [2, 2]
    use("c", 2)  # late: c is new to the windows ending on days 2..8
    assert closed[BASE_DAY + 2] == [2, 2]  # a (days 1-2) and c
    assert closed[BASE_DAY + 8] == [3, 3]
    assert state.usage.last_active == {BASE_DAY + 3: 2, BASE_DAY + 9: 1}
