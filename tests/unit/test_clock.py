from datetime import UTC, datetime, timedelta

from workers.stream.clock import PartitionClocks

T0 = datetime(2026, 9, 1, tzinfo=UTC)
LONG_AGO = 0.0  # monotonic time of deliveries in tests that are about end offsets only
NOW = 1000.0


def test_slowest_lagging_input_holds_the_clock_back() -> None:
    clocks = PartitionClocks()
    clocks.record("usage", 0, offset=10, event_time=T0 + timedelta(days=1), now=LONG_AGO)
    clocks.record("tickets", 0, offset=3, event_time=T0 + timedelta(days=30), now=LONG_AGO)
    ends = {("usage", 0): 1000, ("tickets", 0): 50}
    assert clocks.watermark(0, lambda t, p: ends[(t, p)], now=NOW) == T0 + timedelta(days=1)


def test_caught_up_input_does_not_stall_the_clock() -> None:
    clocks = PartitionClocks()
    clocks.record("usage", 0, offset=999, event_time=T0 + timedelta(days=5), now=LONG_AGO)
    clocks.record("nps", 0, offset=0, event_time=T0, now=LONG_AGO)
    ends = {("usage", 0): 1000, ("nps", 0): 1}
    # Both caught up: the clock is the furthest event time seen.
    assert clocks.watermark(0, lambda t, p: ends[(t, p)], now=NOW) == T0 + timedelta(days=5)


def test_recently_active_input_holds_the_clock_even_when_end_offsets_lag() -> None:
    # Tansu under-reports end offsets: both inputs look caught up, but usage delivered a
    # record a moment ago while tickets has been quiet, so usage's time is the clock.
    clocks = PartitionClocks(active_seconds=2.0)
    clocks.record("usage", 0, offset=5, event_time=T0 + timedelta(days=1), now=NOW - 0.5)
    clocks.record("tickets", 0, offset=5, event_time=T0 + timedelta(days=40), now=NOW - 0.1)
    clocks.record("account", 0, offset=0, event_time=T0, now=NOW - 30)
    assert clocks.watermark(0, lambda t, p: 1, now=NOW) == T0 + timedelta(days=1)
    # Once everything has gone quiet the furthest time wins.
    assert clocks.watermark(0, lambda t, p: 1, now=NOW + 10) == T0 + timedelta(days=40)


def test_other_partitions_and_unknown_highwater() -> None:
    clocks = PartitionClocks()
    clocks.record("usage", 1, offset=0, event_time=T0, now=LONG_AGO)
    assert clocks.watermark(0, lambda t, p: None, now=NOW) is None
    assert clocks.watermark(1, lambda t, p: None, now=NOW) == T0


def test_event_time_never_goes_back_on_late_events() -> None:
    clocks = PartitionClocks()
    clocks.record("usage", 0, offset=1, event_time=T0 + timedelta(hours=5), now=LONG_AGO)
    clocks.record("usage", 0, offset=2, event_time=T0, now=LONG_AGO)
    assert clocks.watermark(0, lambda t, p: 3, now=NOW) == T0 + timedelta(hours=5)


def test_a_dead_letter_at_the_end_of_an_input_does_not_hold_the_clock_for_ever() -> None:
    clocks = PartitionClocks()
    clocks.record("usage", 0, offset=9, event_time=T0 + timedelta(days=2), now=LONG_AGO)
    clocks.record("nps", 0, offset=3, event_time=T0, now=LONG_AGO)
    ends = {("usage", 0): 10, ("nps", 0): 5}  # nps offset 4 was a bad message
    assert clocks.watermark(0, lambda t, p: ends[(t, p)], now=NOW) == T0
    clocks.consumed("nps", 0, offset=4, now=LONG_AGO)
    assert clocks.watermark(0, lambda t, p: ends[(t, p)], now=NOW) == T0 + timedelta(days=2)
