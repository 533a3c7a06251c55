from workers.stream.schedule import Schedule, decode_due, encode_due


def test_pops_only_what_is_due_earliest_first_within_the_limit() -> None:
    s = Schedule()
    s.set("b", 20.0)
    s.set("a", 10.0)
    s.set("c", 30.0)
    assert s.pop_due(25.0, limit=10) == ["a", "b"]
    assert s.pop_due(25.0, limit=1) == ["a"]


def test_rescheduling_replaces_the_old_due_time() -> None:
    s = Schedule()
    s.set("a", 10.0)
    assert s.set("a", 50.0)
    assert not s.set("a", 50.0)
    assert s.pop_due(20.0, limit=10) == []
    assert s.pop_due(50.0, limit=10) == ["a"]
    assert s.next_due() == 50.0


def test_unscheduling_and_len() -> None:
    s = Schedule()
    s.set("a", 1.0)
    s.set("b", 2.0)
    s.set("a", None)
    assert len(s) == 1
    assert s.pop_due(10.0, limit=10) == ["b"]


def test_heap_stays_bounded_under_many_reschedules() -> None:
    s = Schedule()
    for i in range(100_000):
        s.set("a", float(i))
    assert len(s._heap) < 5000
    assert s.pop_due(1e9, limit=10) == ["a"]


def test_due_round_trip() -> None:
    assert decode_due(encode_due(1_788_220_800.5)) == 1_788_220_800.5
