"""The benchmark's report: what one run measured, printed for a reader."""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from book import BookResult
from core_cost import CoreCost
from latency import LatencyResult, pct
from measure import BareResult, Rate
from sizes import BigAccount, SampleSizes, StoreSizes

MB = 1024 * 1024


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
    worker_state: dict[str, Any] = field(default_factory=dict)  # its ops-metrics `state`
    worker_store: StoreSizes | None = None  # (c)'s local store, the sample's accounts
    batch: tuple[int, int] = (0, 0)  # CS_BATCH_MAX, CS_BATCH_WITHIN_MS of (b) and (c)
    code: str = ""  # the commit under test (and whether the worker's files differ from it)
    sample_sizes: SampleSizes | None = None
    big: BigAccount | None = None
    book: BookResult | None = None
    latency: LatencyResult | None = None
    latency_settings: str = ""
    worker_latency: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)
    core: CoreCost | None = None  # the pure core's cost on the same events, in process
    logs: Path | None = None


def _fmt_rate(rate: Rate | None) -> str:
    if rate is None:
        return "n/a"
    return f"{rate.per_second:>9,.0f} ev/s   ({rate.events:,} events in {rate.seconds:.2f} s)"


NOOP_LABEL = {
    "take": "(b) faust noop, take_events",  # the worker's batching: the b of c/b
    "iter": "(b') faust noop, one at a time",
}


def _verdict(ok: bool, target: str) -> str:
    return f"(target {target}: " + ("met" if ok else "NOT met") + ")"


def _main_b(report: Report) -> tuple[str, Rate | None]:
    """The b of c/b: the noop with the worker's batch settings when measured."""
    for mode in ("take", "iter"):
        if mode in report.noop:
            return mode, report.noop[mode][0]
    return "", None


def print_report(report: Report) -> None:
    out = print
    out("")
    out("=" * 78)
    out("cs-signals throughput benchmark (embedded Tansu broker, one machine)")
    out("=" * 78)
    mix = ", ".join(f"{k} {v:,}" for k, v in report.kinds.most_common())
    out(f"N = {report.n:,} events ({mix}); {report.partitions} partitions per input topic")
    out(
        f"CPU: {os.cpu_count()} cores; python {sys.version.split()[0]}; (b) and (c) batches: "
        f"CS_BATCH_MAX={report.batch[0]}, CS_BATCH_WITHIN_MS={report.batch[1]}"
    )
    if report.code:
        out(f"code: {report.code} (at the start of the run)")
    if report.produce_rate:
        out(f"(set-up) produce rate: {report.produce_rate:,.0f} ev/s")
    _throughput(report, out)
    _latency(report, out)
    _sizes(report, out)
    _book(report, out)
    for phase, summary in report.profiles.items():
        out("")
        out(f"py-spy profile of the worker during {phase} (that run's figures are perturbed):")
        out(summary)
    _figures(report, out)
    if report.logs:
        out(f"logs kept in {report.logs}")


def _throughput(report: Report, out: Any) -> None:
    out("")
    out("Throughput (pure consumption of pre-produced events; start-up/group join excluded)")
    bare = report.bare.rate if report.bare else None
    out(f"  (a) bare aiokafka + json.loads   {_fmt_rate(bare)}")
    for mode in ("take", "iter"):
        if mode not in report.noop:
            continue
        rate, done, counter, startup = report.noop[mode]
        out(f"  {NOOP_LABEL[mode]:<32} {_fmt_rate(rate)}")
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
            totals = ", ".join(
                f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                for k, v in report.worker_totals.items()
            )
            out(f"      worker totals: {totals}")
    out("")
    out("Ratios")
    if worker_rate and bare:
        out(f"  c/a  = {worker_rate.per_second / bare.per_second:.3f}")
    for mode, name in (("take", "c/b "), ("iter", "c/b'")):
        rate = report.noop.get(mode, (None,))[0]
        if worker_rate and rate:
            ratio = worker_rate.per_second / rate.per_second
            verdict = "  " + _verdict(ratio >= 0.8, ">= 0.8") if mode == "take" else ""
            out(f"  {name} = {ratio:.3f}{verdict}")
    _, main_b = _main_b(report)
    if main_b and bare:
        out(f"  b/a  = {main_b.per_second / bare.per_second:.3f}")
    _budget(report, worker_rate, main_b, out)


def _budget(report: Report, worker_rate: Rate | None, main_b: Rate | None, out: Any) -> None:
    """c/b as time per event: what the pipeline adds to faust's own time, against what 0.8
    allows, beside what the pure core alone costs on the same events."""
    if not (worker_rate and main_b):
        return
    b_us, c_us = 1e6 / main_b.per_second, 1e6 / worker_rate.per_second
    out("")
    out("Time per event (1 / rate)")
    out(
        f"  b {b_us:.0f} us, c {c_us:.0f} us: the pipeline adds {c_us - b_us:.0f} us; "
        f"c/b >= 0.8 allows {0.25 * b_us:.0f} us (a quarter of b)"
    )
    core = report.core
    if core is not None:
        out(
            f"  in process, no I/O, best of {core.repeats}: decode + validate "
            f"{core.decode_us:.0f} us, core (fold, dedup, evaluations) {core.core_us:.0f} us "
            f"= {core.decode_us + core.core_us:.0f} us"
        )


def _latency(report: Report, out: Any) -> None:
    out("")
    if report.latency is None:
        out("Latency: skipped (--skip-latency)")
        return
    lat = report.latency
    out(f"Latency, NPS detractor event -> nps_detractor task ({report.latency_settings})")
    out(
        f"  sent {lat.sent:,} events in {lat.send_seconds:.1f} s "
        f"({lat.sent / lat.send_seconds:,.0f} ev/s achieved); tasks seen {lat.tasks_seen:,}"
    )
    out(
        f"  active accounts: {lat.usage_accounts:,} with usage ({lat.new_accounts:,} of them new, "
        f"introduced by their facts) + {lat.nps_accounts:,} NPS detractor accounts; "
        f"event time {lat.event_time[0]} .. {lat.event_time[1]}"
    )
    values = lat.latencies_ms
    out(f"  samples {len(values)}  (missing {lat.missing})")
    if values:
        out(
            f"  p50 {pct(values, 0.50):.1f} ms   p99 {pct(values, 0.99):.1f} ms   "
            f"max {values[-1]:.1f} ms   min {values[0]:.1f} ms"
        )
    if lat.slow_at:
        when = ", ".join(f"{t:.1f}" for t in lat.slow_at[:12])
        out(f"  samples over 1 s: {len(lat.slow_at)}, sent at s {when} of the window")
    if lat.warmup_samples:
        out(
            f"  warm-up (excluded): {lat.warmup_samples} samples, "
            f"max {lat.warmup_max_ms or 0:.1f} ms"
        )
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


def _sizes(report: Report, out: Any) -> None:
    sample, big = report.sample_sizes, report.big
    if sample is None and big is None and report.worker_store is None:
        return
    out("")
    out("State size (the account value; user records are separate 16-byte values)")
    if sample is not None:
        out(
            f"  sample, pure core ({sample.accounts} accounts, {sample.events:,} events, "
            f"{sample.seconds:.1f} s):"
        )
        out(f"    account value at the end       {sample.value_end.text()}")
        out(f"    largest at any day's end       {sample.value_peak.text()}")
        out(f"    value + its user records       {sample.with_users.text()}")
        out(f"    most user records of an account: {sample.users_max:,}")
    store = report.worker_store
    if store is not None and store.value is not None:
        out(f"  (c)'s worker, its local store after (c) and (d) ({store.keys:,} keys):")
        out(f"    account value                  {store.value.text()}")
        if store.with_users is not None:
            out(f"    value + its user records       {store.with_users.text()}")
        out(f"    on disk (whole CS_DATA_DIR)    {store.disk_bytes / MB:,.1f} MB")
    state = report.worker_state
    if state:
        writes = state.get("writes") or 0
        mean = (state.get("bytes_written") or 0) / writes if writes else 0
        out(
            f"  (c)'s worker, ops-metrics state: {writes:,} account writes, mean {mean:,.0f} B, "
            f"largest_write_bytes {state.get('largest_write_bytes', 0):,} B"
        )
    if big is not None:
        by_day = ", ".join(f"{b / 1024:.1f}" for b in big.sizes_by_day[:: max(1, big.days // 7)])
        out(
            f"  one account, {big.users:,} daily active users x {big.days} days "
            f"({big.events:,} usage events via apply_event, {big.seconds:.1f} s):"
        )
        out(
            f"    largest value {big.largest_value:,} B (encoded every {big.write_every:,} "
            f"events and at each day's end); at the end {big.final_value:,} B"
        )
        out(f"    value at day ends (KB, every {max(1, big.days // 7)} days): {by_day}")
        out(
            f"    user-record writes {big.user_writes:,} "
            f"({big.user_writes / max(1, big.days):,.0f} a day: one per user and active day)"
        )


def _book(report: Report, out: Any) -> None:
    book = report.book
    if book is None:
        return
    out("")
    big = (
        f", one with {book.big_users:,} daily users for {book.big_days} days"
        if book.big_days
        else ""
    )
    out(
        f"(e) Book: {book.accounts:,} accounts (facts + {book.usage_per_account} usage events "
        f"each{big}), {book.events:,} events, one worker ({book.membership} group membership)"
    )
    if book.produce_seconds:
        out(f"  (set-up) produced in {book.produce_seconds:.1f} s")
    out(f"  consumed at                    {_fmt_rate(book.consume)}")
    if book.startup is not None:
        out(f"  start-up to first commit       {book.startup:.1f} s")
    out(
        f"  RSS after consuming            {book.rss / MB:,.0f} MB "
        f"(peak VmHWM {book.rss_peak / MB:,.0f} MB)"
    )
    out(f"  local store on disk            {book.disk / MB:,.1f} MB")
    if book.store is not None and book.store.value is not None:
        out(f"    account value                {book.store.value.text()}")
        if book.store.with_users is not None:
            out(f"    value + its user records     {book.store.with_users.text()}")
    if book.worker_state:
        st = book.worker_state
        out(
            f"  ops-metrics state: {st.get('writes', 0):,} account writes, largest_write_bytes "
            f"{st.get('largest_write_bytes', 0):,} B; cache {book.cache}"
        )
    for r in book.restarts:
        out(f"  SIGKILL -> restart ({r.label}), data dir {r.data_dir_bytes / MB:,.1f} MB:")
        out(
            f"    first new task after           {_secs(r.kill_to_task)} "
            f"(spawn -> worker_starting {_secs(r.spawn_to_start)}, then group join / "
            f"assignment {_secs(r.join)}; spawn -> last partition recovered "
            f"{_secs(r.spawn_to_recovered)})"
        )
        out(
            f"    recovered {r.recovered_records:,} changelog records on {r.partitions} partitions "
            f"in {r.recovery_seconds:.1f} s (sum); RSS after {r.rss_after / MB:,.0f} MB"
        )


def _secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def _figures(report: Report, out: Any) -> None:
    """The issue's figures, in one block."""
    out("")
    out("=" * 78)
    out("FIGURES (this run, this machine)" + (f"; code {report.code}" if report.code else ""))
    out("-" * 78)
    worker_rate = report.worker[0] if report.worker else None
    mode, main_b = _main_b(report)
    if worker_rate and main_b:
        ratio = worker_rate.per_second / main_b.per_second
        out(
            f"c/b = {ratio:.2f}  {_verdict(ratio >= 0.8, '>= 0.8')}   "
            f"c {worker_rate.per_second:,.0f} ev/s, b {main_b.per_second:,.0f} ev/s "
            f"({NOOP_LABEL[mode][4:]}, "
            f"CS_BATCH_MAX={report.batch[0]}, within {report.batch[1]} ms)"
        )
        other = report.noop.get("iter", (None,))[0] if mode == "take" else None
        if other:
            out(
                f"      c/b' (noop one event at a time) = "
                f"{worker_rate.per_second / other.per_second:.2f}"
            )
    lat = report.latency
    if lat is not None and lat.latencies_ms:
        values = lat.latencies_ms
        p99 = pct(values, 0.99)
        out(
            f"event -> task  p50 {pct(values, 0.5):.0f} ms  p99 {p99:.0f} ms  "
            f"{_verdict(p99 <= 250, 'p99 <= 250 ms')}"
        )
        out(
            f"      at {lat.sent / lat.send_seconds:,.0f} ev/s over {lat.usage_accounts:,} "
            f"accounts with usage + {lat.nps_accounts:,} NPS accounts; {len(values)} samples, "
            f"{lat.missing} missing"
        )
    if report.sample_sizes is not None:
        v = report.sample_sizes.value_end
        out(
            f"state bytes per account (sample, pure core): "
            f"p50 {v.p50:,}  p99 {v.p99:,}  max {v.max:,}"
        )
    store = report.worker_store
    if store is not None and store.value is not None:
        v = store.value
        out(
            f"      as the worker stored them (after (c)+(d)): "
            f"p50 {v.p50:,}  p99 {v.p99:,}  max {v.max:,}"
        )
    if report.big is not None:
        big = report.big
        out(
            f"largest state write, {big.users:,} daily users: {big.largest_value:,} B "
            f"{_verdict(big.largest_value <= 64 * 1024, '<= 64 KB')} (pure core, {big.days} days)"
        )
    book = report.book
    if book is not None and book.worker_state and book.big_days:
        out(
            f"      worker's largest_write_bytes, book with a {book.big_users:,}-DAU account: "
            f"{book.worker_state.get('largest_write_bytes', 0):,} B"
        )
    if book is not None and book.rss:
        out(
            f"{book.accounts:,} accounts, one worker: RSS {book.rss / MB:,.0f} MB "
            f"{_verdict(book.rss <= 2 * 1024 * MB, '<= 2 GB')}; "
            f"local store {book.disk / MB:,.0f} MB on disk"
        )
        times = {r.label: r for r in book.restarts}
        warm, cold = times.get("with local store"), times.get("cold start")
        if warm is not None:
            ok = warm.kill_to_task is not None and warm.kill_to_task <= 30
            cold_text = _secs(cold.kill_to_task) if cold else "n/a"
            out(
                f"      SIGKILL -> restart ({book.membership} membership) -> first new task: "
                f"with local store "
                f"{_secs(warm.kill_to_task)} {_verdict(ok, '<= 30 s')} | cold start {cold_text}"
            )
            if cold is not None:
                out(
                    f"      changelog records restored: {warm.recovered_records:,} | "
                    f"{cold.recovered_records:,}"
                )
    out("=" * 78)
