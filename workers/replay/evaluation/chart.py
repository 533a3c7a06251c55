"""`cs-signals evaluate --chart FILE.html`: risk tasks per week, stacked by playbook.

One self-contained HTML file with inline SVG: no network, no script, no library. The warm-up is
shaded, the worst full week (the alert storm) is outlined and labelled, each bar segment names
its playbook, week and count on hover (SVG <title>).
"""

from __future__ import annotations

from datetime import date, timedelta
from html import escape
from typing import Any

__all__ = ["render_chart"]

# Colour-blind-friendly categorical palette (Okabe-Ito, then Tableau extras).
_PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#8C564B",
    "#7F7F7F",
    "#BCBD22",
    "#17BECF",
)

_W, _H = 960, 420
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 200, 48, 64


def render_chart(result: dict[str, Any], title: str = "Risk tasks per week") -> str:
    weekly = result["weekly"]
    book, storm = result["book"], result["metrics"]["storm"]
    playbooks = sorted({pb for w in weekly for pb in w["by_playbook"]})
    colours = {pb: _PALETTE[i % len(_PALETTE)] for i, pb in enumerate(playbooks)}
    top = max([w["total"] for w in weekly] or [0]) or 1
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    n = max(len(weekly), 1)
    slot = plot_w / n
    bar = max(slot * 0.75, 1.0)
    scale = plot_h / top
    warm_end = date.fromisoformat(book["warmup_end"])
    worst = storm.get("worst_week")

    parts: list[str] = []
    # Warm-up shading: the weeks that start before its end.
    warm_weeks = sum(1 for w in weekly if date.fromisoformat(w["week"]) < warm_end)
    if warm_weeks:
        parts.append(
            f'<rect x="{_LEFT}" y="{_TOP}" width="{warm_weeks * slot:.1f}" height="{plot_h}" '
            'fill="#eeeeee"><title>warm-up (first 30 days, reported apart)</title></rect>'
            f'<text x="{_LEFT + 4}" y="{_TOP + 14}" font-size="11" fill="#666">warm-up</text>'
        )
    # Axis and grid.
    step = _nice_step(top)
    value = 0
    while value <= top:
        y = _TOP + plot_h - value * scale
        parts.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{value}</text>'
        )
        value += step
    # Bars.
    label_every = max(1, round(n / 12))
    for i, week in enumerate(weekly):
        x = _LEFT + i * slot + (slot - bar) / 2
        y = _TOP + plot_h
        for pb in playbooks:
            count = week["by_playbook"].get(pb, 0)
            if not count:
                continue
            h = count * scale
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colours[pb]}"><title>{escape(pb)}: {count} in the week of '
                f"{week['week']}</title></rect>"
            )
        if not week["full"]:
            parts.append(
                f'<rect x="{x:.1f}" y="{_TOP}" width="{bar:.1f}" height="{plot_h}" fill="none" '
                'stroke="#bbb" stroke-dasharray="3 3"><title>partial week (not in the storm '
                "figure)</title></rect>"
            )
        if week["week"] == worst:
            top_y = _TOP + plot_h - week["total"] * scale
            parts.append(
                f'<rect x="{x - 2:.1f}" y="{top_y - 2:.1f}" width="{bar + 4:.1f}" '
                f'height="{week["total"] * scale + 2:.1f}" fill="none" stroke="#C00000" '
                'stroke-width="2.5"/>'
                f'<text x="{x + bar / 2:.1f}" y="{max(top_y - 8, 12):.1f}" font-size="12" '
                f'font-weight="bold" text-anchor="middle" fill="#C00000">worst week: '
                f"{week['total']}</text>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{_TOP + plot_h + 16}" font-size="10" '
                f'text-anchor="end" transform="rotate(-40 {x + bar / 2:.1f} '
                f'{_TOP + plot_h + 16})">{week["week"]}</text>'
            )
    # Legend.
    for i, pb in enumerate(playbooks):
        y = _TOP + i * 18
        parts.append(
            f'<rect x="{_W - _RIGHT + 16}" y="{y}" width="12" height="12" fill="{colours[pb]}"/>'
            f'<text x="{_W - _RIGHT + 34}" y="{y + 10}" font-size="12">{escape(pb)}</text>'
        )
    if not playbooks:
        parts.append(
            f'<text x="{_LEFT + plot_w / 2}" y="{_TOP + plot_h / 2}" text-anchor="middle">'
            "no risk tasks</text>"
        )

    if worst:
        storm_text = (
            f"Worst full week {worst}: {storm['worst_week_tasks']} risk tasks "
            f"({storm['worst_week_right']} right, {storm['worst_week_on_healthy']} on healthy "
            f"accounts), {storm['value']:.2f}× the mean of {storm['mean_week_tasks']:.1f} "
            f"(target ≤ 1.5: {'met' if storm['met'] else 'not met'}; by chance "
            f"{storm['by_chance']:.2f})."
            if storm["value"] is not None
            else f"Worst full week {worst}: no risk tasks."
        )
    else:
        storm_text = "No full week after the warm-up."
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" font-family="system-ui, sans-serif" role="img" '
        f'aria-label="{escape(title)}">'
        f'<text x="{_LEFT}" y="24" font-size="16" font-weight="bold">{escape(title)}</text>'
        + "".join(parts)
        + f'<line x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_TOP + plot_h}" stroke="#333"/>'
        f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{_TOP + plot_h}" '
        f'y2="{_TOP + plot_h}" stroke="#333"/></svg>'
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}"
        "p{max-width:960px}</style></head><body>\n"
        f"{svg}\n<p>{escape(storm_text)} Book {book['first_day']} to {book['last_day']}; "
        f"weeks start on Monday; the shaded weeks are the warm-up (until "
        f"{_previous(warm_end)}), dashed outlines mark partial weeks.</p>\n</body></html>\n"
    )


def _previous(day: date) -> str:
    return (day - timedelta(days=1)).isoformat()


def _nice_step(top: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if top / step <= 8:
            return step
    return max(1, top // 8)
