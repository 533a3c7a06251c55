"""One readable line per message, shared by `tail` and the demo."""

from __future__ import annotations

import json
from typing import Any

_ACTION_MARK = {"opened": "+", "updated": "~", "resolved": "✓"}


def _short_time(value: str | None) -> str:
    if not value:
        return "-"
    return value.replace("T", " ")[:16]


def render_task(task: dict[str, Any]) -> str:
    health = task.get("health") or {}
    health_text = f" health {health['score']:.0f} {health['band']}" if health else ""
    return (
        f"{_ACTION_MARK.get(task.get('action', ''), '?')} {task.get('action', '?'):<8} "
        f"{task.get('account_id', '?'):<14} {task.get('playbook', '?'):<20} "
        f"{task.get('priority', '?'):<8} due {_short_time(task.get('due_at'))}"
        f"{health_text} owner {task.get('owner_id') or '-'} — {task.get('reason', '')}"
    )


def render_health(score: dict[str, Any]) -> str:
    previous = score.get("previous_score")
    change = "" if previous is None else f" (was {previous:.0f})"
    parts = [
        f"{name} {c.get('points')}pt" for name, c in sorted((score.get("components") or {}).items())
    ]
    return (
        f"{score.get('account_id', '?'):<14} {score.get('score', 0):5.1f} "
        f"{score.get('band', '?'):<9}{change} at {_short_time(score.get('computed_at'))} "
        f"[{', '.join(parts)}]"
    )


def render_dead_letter(letter: dict[str, Any]) -> str:
    return (
        f"{letter.get('source_topic', '?')}[{letter.get('partition')}]@{letter.get('offset')} "
        f"({letter.get('payload_size', '?')} bytes): {letter.get('error', '')}"
    )


def render_metrics(snapshot: dict[str, Any]) -> str:
    latency = snapshot.get("processing_latency_ms") or {}
    return (
        f"{snapshot.get('worker_id', '?')} at {_short_time(snapshot.get('at'))}: "
        f"in {snapshot.get('events_in_total', 0):,} tasks {snapshot.get('tasks_out_total', 0):,} "
        f"dead {snapshot.get('dead_letters_total', 0):,} "
        f"lag {snapshot.get('consumer_lag_total', 0):,} "
        f"p50 {latency.get('p50')} ms p99 {latency.get('p99')} ms"
    )


RENDERERS = {
    "playbook-tasks": render_task,
    "health-scores": render_health,
    "dead-letters": render_dead_letter,
    "ops-metrics": render_metrics,
}


def render(topic: str, value: bytes) -> str:
    try:
        data = json.loads(value)
    except ValueError:
        return value.decode("utf-8", "replace")
    renderer = RENDERERS.get(topic)
    if renderer is None or not isinstance(data, dict):
        return json.dumps(data, separators=(",", ":"))
    try:
        return renderer(data)
    except (KeyError, TypeError, ValueError):
        return json.dumps(data, separators=(",", ":"))
