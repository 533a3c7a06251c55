"""The partition clock: event-time watermark, facts that don't hold it, quiet partitions that
follow the wall clock minus the allowed lateness, and persistence."""

from workers.stream.clock import PartitionClock

DAY = 86400.0
T0 = 1_788_220_800.0  # 2026-09-01T00:00:00Z
LONG_AGO = 0.0  # monotonic time of deliveries in tests that are about end offsets only
NOW = 1000.0  # monotonic "now" in these tests


def ends_of(table: dict[str, int | None]):
    return lambda topic, partition: table.get(topic)


def test_slowest_input_with_a_backlog_holds_the_clock_back() -> None:
    clock = PartitionClock()
    clock.record("usage-events", 10, T0 + DAY, False, LONG_AGO)
    clock.record("ticket-events", 3, T0 + 30 * DAY, False, LONG_AGO)
    ends = ends_of({"usage-events": 1000, "ticket-events": 50})
    assert clock.compute(0, ends, wall=None, lateness=None, now=NOW) == T0 + DAY


def test_caught_up_inputs_let_the_clock_reach_the_newest_event() -> None:
    clock = PartitionClock()
    clock.record("usage-events", 999, T0 + 5 * DAY, False, LONG_AGO)
    clock.record("nps-events", 0, T0, False, LONG_AGO)
    ends = ends_of({"usage-events": 1000, "nps-events": 1})
    assert clock.compute(0, ends, wall=None, lateness=None, now=NOW) == T0 + 5 * DAY


def test_recently_active_stream_holds_the_clock_even_when_end_offsets_lag() -> None:
    # Tansu under-reports end offsets: both look caught up, but usage delivered just now.
    clock = PartitionClock()
    clock.record("usage-events", 5, T0 + DAY, False, NOW - 0.5)
    clock.record("ticket-events", 5, T0 + 9 * DAY, False, LONG_AGO)
    ends = ends_of({"usage-events": 6, "ticket-events": 6})
    assert clock.compute(0, ends, wall=None, lateness=None, now=NOW) == T0 + DAY


def test_facts_stamped_in_the_past_do_not_hold_a_live_clock() -> None:
    # A CRM backfill: a fact stamped 30 days back arrives with each live NPS response.
    clock = PartitionClock()
    clock.record("account-events", 7, T0 - 30 * DAY, True, NOW - 0.1)
    clock.record("nps-events", 7, T0, False, NOW - 0.1)
    ends = ends_of({"account-events": 8, "nps-events": 8})
    assert clock.compute(0, ends, wall=None, lateness=None, now=NOW) == T0


def test_facts_with_a_backlog_do_hold_the_clock_in_a_replay() -> None:
    clock = PartitionClock()
    clock.record("account-events", 7, T0 - 30 * DAY, True, NOW - 0.1)
    clock.record("nps-events", 7, T0, False, NOW - 0.1)
    ends = ends_of({"account-events": 500, "nps-events": 8})
    assert clock.compute(0, ends, wall=None, lateness=None, now=NOW) == T0 - 30 * DAY


def test_quiet_caught_up_partition_follows_wall_clock_minus_lateness() -> None:
    clock = PartitionClock()
    clock.record("usage-events", 99, T0, False, LONG_AGO)
    ends = ends_of({"usage-events": 100})
    wall = T0 + 3 * DAY
    assert clock.compute(0, ends, wall=wall, lateness=300.0, now=NOW) == wall - 300.0


def test_lateness_off_keeps_pure_event_time() -> None:
    clock = PartitionClock()
    clock.record("usage-events", 99, T0, False, LONG_AGO)
    ends = ends_of({"usage-events": 100})
    assert clock.compute(0, ends, wall=T0 + 3 * DAY, lateness=None, now=NOW) == T0


def test_a_backlog_keeps_event_time_whatever_the_wall_clock() -> None:
    # A catch-up after an outage: no false "silent" alarm from the wall clock.
    clock = PartitionClock()
    clock.record("usage-events", 10, T0, False, LONG_AGO)
    ends = ends_of({"usage-events": 100_000})
    assert clock.compute(0, ends, wall=T0 + 30 * DAY, lateness=300.0, now=NOW) == T0


def test_an_active_stream_is_not_quiet() -> None:
    clock = PartitionClock()
    clock.record("usage-events", 10, T0, False, NOW - 0.1)
    ends = ends_of({"usage-events": 11})
    assert clock.compute(0, ends, wall=T0 + DAY, lateness=60.0, now=NOW) == T0


def test_the_clock_never_goes_back() -> None:
    clock = PartitionClock()
    clock.record("usage-events", 9, T0 + DAY, False, LONG_AGO)
    ends = {"usage-events": 10, "ticket-events": 10}
    assert clock.compute(0, ends_of(ends), wall=None, lateness=None, now=NOW) == T0 + DAY
    # tickets start delivering with older times and a backlog: the clock holds where it is
    clock.record("ticket-events", 0, T0, False, NOW)
    assert clock.compute(0, ends_of(ends), wall=None, lateness=None, now=NOW) == T0 + DAY


def test_unknown_end_offsets_count_as_caught_up() -> None:
    clock = PartitionClock()
    clock.record("usage-events", 3, T0, False, LONG_AGO)
    assert clock.compute(0, ends_of({}), wall=None, lateness=None, now=NOW) == T0


def test_dead_letters_count_as_read() -> None:
    clock = PartitionClock()
    clock.record("usage-events", 4, T0, False, LONG_AGO)
    clock.record("usage-events", 5, None, False, LONG_AGO)  # a dead letter: no event time
    ends = ends_of({"usage-events": 6})
    assert clock.compute(0, ends, wall=T0 + DAY, lateness=60.0, now=NOW) == T0 + DAY - 60.0


def test_round_trip_through_bytes_keeps_progress_but_not_recency() -> None:
    clock = PartitionClock()
    clock.record("usage-events", 41, T0, False, NOW)
    clock.record("account-events", 2, T0 - DAY, True, NOW)
    clock.compute(0, ends_of({}), wall=None, lateness=None, now=NOW)
    restored = PartitionClock.from_bytes(clock.to_bytes())
    assert restored.reached == clock.reached == T0
    assert restored.inputs["usage-events"].last_offset == 41
    assert restored.inputs["account-events"].is_fact
    assert restored.inputs["usage-events"].last_delivery == 0.0
    assert PartitionClock.from_bytes(None).reached is None
