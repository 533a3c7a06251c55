from datetime import UTC, datetime, timedelta

from workers.clock import PartitionClocks

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def test_slowest_lagging_input_holds_the_clock_back() -> None:
    clocks = PartitionClocks()
    clocks.record("usage", 0, offset=10, event_time=T0 + timedelta(days=1))
    clocks.record("tickets", 0, offset=3, event_time=T0 + timedelta(days=30))
    ends = {("usage", 0): 1000, ("tickets", 0): 50}
    assert clocks.watermark(0, lambda t, p: ends[(t, p)]) == T0 + timedelta(days=1)


def test_caught_up_input_does_not_stall_the_clock() -> None:
    clocks = PartitionClocks()
    clocks.record("usage", 0, offset=999, event_time=T0 + timedelta(days=5))
    clocks.record("nps", 0, offset=0, event_time=T0)
    ends = {("usage", 0): 1000, ("nps", 0): 1}
    # Both caught up: the clock is the furthest event time seen.
    assert clocks.watermark(0, lambda t, p: ends[(t, p)]) == T0 + timedelta(days=5)


def test_other_partitions_and_unknown_highwater() -> None:
    clocks = PartitionClocks()
    clocks.record("usage", 1, offset=0, event_time=T0)
    assert clocks.watermark(0, lambda t, p: None) is None
    assert clocks.watermark(1, lambda t, p: None) == T0


def test_event_time_never_goes_back_on_late_events() -> None:
    clocks = PartitionClocks()
    clocks.record("usage", 0, offset=1, event_time=T0 + timedelta(hours=5))
    clocks.record("usage", 0, offset=2, event_time=T0)
    assert clocks.watermark(0, lambda t, p: 3) == T0 + timedelta(hours=5)
