"""Charts as inline SVG, drawn on the server: the health score over time (a step line over the
four bands, one dot per recorded score) and small trend lines for a component's raw value."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workers.board.html import e
from workers.board.keys import parse_time

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 12, 28
# (low, high, fill, label): the bands of DOMAIN.md.
BANDS = (
    (20, 50, "#fde2e1", "critical"),
    (50, 70, "#fff1d6", "at risk"),
    (70, 85, "#e6f4ea", "healthy"),
    (85, 100, "#d2efdc", "champion"),
)


def _y(score: float) -> float:
    return TOP + (100 - score) / 80 * (HEIGHT - TOP - BOTTOM)


def health_chart(points: list[dict[str, Any]], now: datetime | None = None) -> str:
    """`points`: the board's history entries (t, s, b), oldest first."""
    series: list[tuple[datetime, float, str]] = []
    for point in points:
        moment = parse_time(point.get("t"))
        if moment is not None:
            series.append((moment, float(point["s"]), str(point.get("b", ""))))
    inner = WIDTH - LEFT - RIGHT
    parts = [
        f'<svg class="chart" id="health-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Health score over time" xmlns="http://www.w3.org/2000/svg">'
    ]
    for low, high, fill, label in BANDS:
        parts.append(
            f'<rect x="{LEFT}" y="{_y(high):.1f}" width="{inner}" '
            f'height="{_y(low) - _y(high):.1f}" fill="{fill}"/>'
            f'<text x="{WIDTH - RIGHT - 4}" y="{_y(high) + 12:.1f}" text-anchor="end" '
            f'font-size="10" fill="#6b7280">{label}</text>'
        )
    for tick in (20, 50, 70, 85, 100):
        parts.append(
            f'<text x="{LEFT - 6}" y="{_y(tick) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#374151">{tick}</text>'
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_y(tick):.1f}" y2="{_y(tick):.1f}" '
            'stroke="#d1d5db" stroke-width="0.5"/>'
        )
    if not series:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#6b7280">'
            "no health history yet</text></svg>"
        )
        return "".join(parts)
    start = series[0][0].timestamp()
    end = max(series[-1][0].timestamp(), now.timestamp() if now else 0)
    end = end if end > start else start + 3600

    def x(moment: datetime) -> float:
        return LEFT + (moment.timestamp() - start) / (end - start) * inner

    path = []
    for i, (t, s, _b) in enumerate(series):
        if i:
            path.append(f"H{x(t):.1f}")
            path.append(f"V{_y(s):.1f}")
        else:
            path.append(f"M{x(t):.1f},{_y(s):.1f}")
    path.append(f"H{LEFT + inner:.1f}")
    parts.append(
        f'<path class="line" d="{" ".join(path)}" fill="none" stroke="#1d4ed8" '
        'stroke-width="2"/>'
    )
    for t, s, b in series[-300:]:
        parts.append(
            f'<circle class="point" cx="{x(t):.1f}" cy="{_y(s):.1f}" r="3" fill="#1d4ed8">'
            f"<title>{s:.0f} ({e(b)}) at {t:%Y-%m-%d %H:%M} UTC</title></circle>"
        )
    first, last = series[0][0], datetime.fromtimestamp(end, series[0][0].tzinfo)
    middle = datetime.fromtimestamp((start + end) / 2, first.tzinfo)
    for moment, anchor in ((first, "start"), (middle, "middle"), (last, "end")):
        parts.append(
            f'<text x="{x(moment):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" font-size="11" '
            f'fill="#374151">{moment:%b %d}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: list[tuple[datetime, float]], label: str, low: float, high: float) -> str:
    """A small trend line of `values` (time, value), scaled to [low, high]."""
    width, height, pad = 180, 40, 3
    if len(values) < 2 or values[0][0] == values[-1][0]:
        return f'<span class="muted small">{"one value" if values else "no data"} yet</span>'
    start, end = values[0][0].timestamp(), values[-1][0].timestamp()
    span = end - start
    scale = (high - low) or 1.0
    points = " ".join(
        f"{pad + (t.timestamp() - start) / span * (width - 2 * pad):.1f},"
        f"{height - pad - (min(max(v, low), high) - low) / scale * (height - 2 * pad):.1f}"
        for t, v in values
    )
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{e(label)}" xmlns="http://www.w3.org/2000/svg">'
        f'<polyline points="{points}" fill="none" stroke="#0f766e" stroke-width="1.5"/></svg>'
        f'<span class="spark-last">{values[-1][1]:.0f}</span>'
        f'<span class="muted small"> latest · scale {low:g}–{high:g}</span>'
    )


def component_series(points: list[dict[str, Any]], component: str) -> list[tuple[datetime, float]]:
    out: list[tuple[datetime, float]] = []
    for point in points:
        raw = (point.get("c") or {}).get(component)
        moment = parse_time(point.get("t"))
        if isinstance(raw, int | float) and moment is not None:
            out.append((moment, float(raw)))
    return out
