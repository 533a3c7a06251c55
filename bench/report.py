"""The benchmark's report: what one run measured, printed for a reader."""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latency import LatencyResult, pct
from measure import BareResult, Rate


@dataclass
class Report:
    n: int
    partitions: int
    kinds: Counter[str]
    produce_rate: float | None = None
    bare: BareResult | None = None
    noop: dict[str, tuple[Rate | None, Rate | None, Rate | None, float | None]] = field(
        default_factory=dict
    )
    worker: tuple[Rate | None, Rate | None, Rate | None, float | None] | None = None
    worker_totals: dict[str, Any] = field(default_factory=dict)
    latency: LatencyResult | None = None
    latency_settings: str = ""
    worker_latency: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)
    logs: Path | None = None


def _fmt_rate(rate: Rate | None) -> str:
    if rate is None:
        return "n/a"
    return f"{rate.per_second:>9,.0f} ev/s   ({rate.events:,} events in {rate.seconds:.2f} s)"


def print_report(report: Report) -> None:
    out = print
    out("")
    out("=" * 78)
    out("cs-signals throughput benchmark (embedded Tansu broker, one machine)")
    out("=" * 78)
    mix = ", ".join(f"{k} {v:,}" for k, v in report.kinds.most_common())
    out(f"N = {report.n:,} events ({mix}); {report.partitions} partitions per input topic")
    out(f"CPU: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    if report.produce_rate:
        out(f"(set-up) produce rate: {report.produce_rate:,.0f} ev/s")
    out("")
    out("Throughput (pure consumption of pre-produced events; start-up/group join excluded)")
    bare = report.bare.rate if report.bare else None
    out(f"  (a) bare aiokafka + json.loads   {_fmt_rate(bare)}")
    for mode, (rate, done, counter, startup) in report.noop.items():
        label = "(b) faust noop agent" if mode == "iter" else "(b') faust noop, take_events"
        out(f"  {label:<32} {_fmt_rate(rate)}")
        out(f"      cross-check, in-agent counter   {_fmt_rate(counter)}")
        out(f"      first commit -> completion      {_fmt_rate(done)}")
        if startup is not None:
            out(f"      start-up to first commit        {startup:.1f} s (excluded)")
    worker_rate: Rate | None = None
    if report.worker:
        worker_rate, done, counter, startup = report.worker
        out(f"  (c) cs-signals worker            {_fmt_rate(worker_rate)}")
        out(f"      cross-check, ops-metrics        {_fmt_rate(counter)}")
        out(f"      first commit -> completion      {_fmt_rate(done)}")
        if startup is not None:
            out(f"      start-up to first commit        {startup:.1f} s (excluded)")
        if report.worker_totals:
            totals = ", ".join(f"{k} {v:,}" for k, v in report.worker_totals.items())
            out(f"      worker totals: {totals}")
    primary = report.noop.get("iter") or next(iter(report.noop.values()), None)
    primary_b = primary[0] if primary else None
    out("")
    out("Ratios")
    if worker_rate and bare:
        out(f"  c/a  = {worker_rate.per_second / bare.per_second:.3f}")
    for mode, (rate, *_rest) in report.noop.items():
        if worker_rate and rate:
            name = "c/b " if mode == "iter" else "c/b'"
            verdict = ""
            if mode == "iter":
                ok = worker_rate.per_second / rate.per_second >= 0.5
                verdict = "  (target >= 0.5: " + ("met" if ok else "NOT met") + ")"
            out(f"  {name} = {worker_rate.per_second / rate.per_second:.3f}{verdict}")
    if primary_b and bare:
        out(f"  b/a  = {primary_b.per_second / bare.per_second:.3f}")
    out("")
    if report.latency is not None:
        lat = report.latency
        out(f"Latency, NPS detractor event -> nps_detractor task ({report.latency_settings})")
        out(
            f"  sent {lat.sent:,} events in {lat.send_seconds:.1f} s "
            f"({lat.sent / lat.send_seconds:,.0f} ev/s achieved); tasks seen {lat.tasks_seen:,}"
        )
        values = lat.latencies_ms
        out(f"  samples {len(values)}  (missing {lat.missing})")
        if values:
            out(
                f"  p50 {pct(values, 0.50):.1f} ms   p99 {pct(values, 0.99):.1f} ms   "
                f"max {values[-1]:.1f} ms   min {values[0]:.1f} ms"
            )
        if lat.warmup_samples:
            out(
                f"  warm-up (excluded): {lat.warmup_samples} samples, "
                f"max {lat.warmup_max_ms or 0:.1f} ms"
            )
    else:
        out("Latency: skipped (--skip-latency)")
    if report.worker_latency:
        wl = report.worker_latency
        out(
            f"  worker's own view (ops-metrics processing_latency_ms, Kafka timestamp -> "
            f"published; {wl['snapshots']} 1-s snapshots, {wl['count']} tasks): "
            f"median p50 {wl['p50']:.1f} ms, max p99 {wl['p99']:.1f} ms"
        )
        if wl["batches"] and wl["seconds"]:
            out(
                f"  worker batches meanwhile: {wl['batches']} in {wl['seconds']:.1f} s "
                f"({wl['seconds'] / wl['batches'] * 1000:.0f} ms apart, "
                f"{wl['events'] / wl['batches']:.0f} events each)"
            )
    for phase, summary in report.profiles.items():
        out("")
        out(f"py-spy profile of the worker during {phase} (that run's figures are perturbed):")
        out(summary)
    if report.logs:
        out("")
        out(f"logs kept in {report.logs}")
    out("=" * 78)
