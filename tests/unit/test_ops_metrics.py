from workers.stream.ops_metrics import WorkerMetrics, percentile


def test_percentile_edges() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.99) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) in (50.0, 51.0)
    assert percentile(values, 0.99) == 99.0


def test_snapshot_is_cumulative_and_resets_latency() -> None:
    metrics = WorkerMetrics(worker_id="w1", app_id="app")
    metrics.events_in["usage-events"] += 3
    metrics.dead_letters["nps-events"] += 1
    metrics.tasks_out["usage_drop"]["opened"] += 2
    for ms in (5.0, 1.0, 3.0):
        metrics.observe_latency(ms)
    snap = metrics.snapshot(
        at="2026-11-23T10:00:00+00:00",
        interval_seconds=10,
        consumer_lag={"usage-events/0": 4},
        assigned_partitions=[0],
        event_clock={0: None},
    )
    assert snap["events_in_total"] == 3
    assert snap["dead_letters_total"] == 1
    assert snap["tasks_out"] == {"usage_drop": {"opened": 2}}
    assert snap["processing_latency_ms"] == {"count": 3, "p50": 3.0, "p99": 5.0, "max": 5.0}
    assert snap["consumer_lag_total"] == 4
    again = metrics.snapshot(
        at="x", interval_seconds=10, consumer_lag={}, assigned_partitions=[], event_clock={}
    )
    assert again["events_in_total"] == 3
    assert again["processing_latency_ms"]["count"] == 0
