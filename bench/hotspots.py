"""Optional py-spy profiling of the worker: start, stop, and the top functions of its
collapsed stacks."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from pathlib import Path

from workers.local.processes import stop_process

_OURS = ("workers/", "events/", "config/")
_ENTRY = ("workers/cli/",)  # every stack passes through these
_IDLE_LEAVES = ("EpollSelector.select", "_PollLikeSelector.select", "select.epoll.poll")
_PACKAGES = (
    "workers/",
    "events/",
    "config/",
    "faust/",
    "mode/",
    "aiokafka/",
    "kafka/",
    "asyncio/",
    "json/",
    "pydantic",
    "redis/",
    "structlog/",
)


def summarize_py_spy(path: Path, repo: Path, top: int = 15) -> str:
    """Top functions (inclusive and self) from py-spy's raw (collapsed-stack) output.

    Samples whose innermost frame is the event loop's select() are the worker waiting for
    I/O; they are counted apart and left out of the percentages (which are of busy time).
    """
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(frame, repo) for frame in stack.split(";")]
        total += count
        if frames[-1].endswith(_IDLE_LEAVES):
            idle += count
            continue
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
        package = next((p for p in _PACKAGES if p in frames[-1]), "other")
        by_package[package.rstrip("/")] += count
    busy = total - idle
    if not busy:
        return "  (no samples)"
    share = 100 / busy
    ours = [
        (n, c)
        for n, c in inclusive.most_common()
        if n.startswith(_OURS) and not n.startswith(_ENTRY)
    ]
    lines = [
        f"  {total:,} samples; {100 * idle / total:.0f}% waiting in select(),"
        " the rest (busy) is 100% below",
        "  self time by package: "
        + ", ".join(f"{name} {c * share:.0f}%" for name, c in by_package.most_common(9)),
        "  inclusive, project code (workers/ events/ config/):",
    ]
    lines += [f"    {c * share:5.1f}%  {n}" for n, c in ours[:top]]
    lines.append("  self time, anywhere:")
    lines += [f"    {c * share:5.1f}%  {n}" for n, c in own.most_common(top)]
    return "\n".join(lines)


def start_py_spy(binary: str, pid: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [binary, "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def finish_py_spy(profiler: subprocess.Popen[bytes], out: Path, repo: Path) -> str | None:
    profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    try:
        profiler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stop_process(profiler)
    return summarize_py_spy(out, repo) if out.exists() else None


def _frame_name(frame: str, repo: Path) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)".
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file, _, _line = where.rpartition(":")
    file = file or where
    for root in (str(repo) + "/", "site-packages/"):
        if root in file:
            file = file.split(root, 1)[1]
            break
    return f"{file}:{name}" if file else name
