"""The account page: health over time, the components with their explanations, the signals
behind them (NPS responses, usage and support trends, recent tickets), open tasks and the
account's task history."""

from __future__ import annotations

from typing import Any

from workers.board.chart import component_series, health_chart, sparkline
from workers.board.html import band_chip, delta, e, money, section, when, when_short
from workers.board.keys import parse_time
from workers.board.store import Account, BoardStore
from workers.board.widgets import View, task_table

ACCOUNT_SECTIONS = ("score", "chart", "components", "signals", "tasks", "history")
_COMPONENT_LABEL = {
    "usage": ("Usage", "7-day active users / licensed seats"),
    "adoption": ("Adoption", "core features used in 30 days / core features"),
    "engagement": ("Engagement", "days since the champion was last active"),
    "satisfaction": ("Satisfaction", "the latest NPS response"),
    "support": ("Support", "escalations in 30 days and open high/urgent tickets"),
}


async def account_sections(
    store: BoardStore, view: View, account: Account, only: str | None = None
) -> dict[str, str]:
    data = await store.detail(account.account_id)
    tasks = [t for t in await store.open_tasks() if t["account_id"] == account.account_id]
    out: dict[str, str] = {}
    for name in (only,) if only else ACCOUNT_SECTIONS:
        if name == "score":
            out[name] = (
                f'<div class="score-big">{band_chip(account.band, account.score)} '
                f"{delta(account.score, account.previous_score)}"
                f'<span class="muted small"> scored {e(when(account.computed_at))}</span></div>'
            )
        elif name == "chart":
            points = data["history"]
            out[name] = (
                "<h2>Health over time</h2>" + health_chart(points, view.now)
                + f'<p class="muted small">{len(points)} scores kept (the newest are kept, '
                "a bounded history).</p>"
            )
        elif name == "components":
            out[name] = _components(data["components"], data["missing"])
        elif name == "signals":
            out[name] = _signals(data)
        elif name == "tasks":
            out[name] = "<h2>Open tasks</h2>" + task_table(view, tasks, show_account=False)
        elif name == "history":
            out[name] = _history(data["task_history"])
    return out


def account_body(account: Account, sections: dict[str, str]) -> str:
    facts = [
        ("Segment", account.segment or "—"),
        ("CSM", account.csm_id or "unassigned"),
        ("ARR", money(account.arr)),
        ("Renewal", account.renewal_date or "—"),
    ]
    if account.status:
        facts.append(("Status", account.status))
    facts_html = "".join(f"<div><span>{e(k)}</span><b>{e(v)}</b></div>" for k, v in facts)
    return (
        f'<div class="head"><h1>{e(account.name or account.account_id)} '
        f'<span class="muted">{e(account.account_id)}</span></h1></div>'
        f'<div class="facts">{facts_html}</div>'
        + section("score", sections["score"])
        + '<div class="columns wide-side"><div class="main-col">'
        + section("chart", sections["chart"])
        + section("tasks", sections["tasks"])
        + section("history", sections["history"])
        + '</div><aside class="side-col">'
        + section("components", sections["components"])
        + section("signals", sections["signals"])
        + "</aside></div>"
    )


def _components(components: dict[str, Any], missing: list[str]) -> str:
    if not components:
        return '<h2>Components</h2><p class="empty">No health score yet.</p>'
    rows = []
    for name, c in components.items():
        points = c.get("points", 0)
        grade = {5: "good", 3: "at_risk", 1: "critical"}.get(points, "")
        label, meaning = _COMPONENT_LABEL.get(name, (name, ""))
        rows.append(
            f'<tr><td><b title="{e(meaning)}">{e(label)}</b>'
            f'<div class="muted small">{e(c.get("detail", ""))}</div></td>'
            f'<td><span class="chip grade-{grade}">{points}/5</span></td>'
            f'<td class="num">{float(c.get("weight", 0)):.0%}</td>'
            f'<td class="num">{float(c.get("contribution", 0)):.1f}</td></tr>'
        )
    note = (
        f'<p class="muted small">No data yet for {e(", ".join(missing))}: its weight is shared '
        "by the others.</p>"
        if missing
        else ""
    )
    return (
        '<h2>Components</h2><table class="components"><thead><tr><th>Component</th>'
        "<th>Points</th><th>Weight</th><th>Adds</th></tr></thead>"
        f'<tbody>{"".join(rows)}</tbody></table>{note}'
    )


def _signals(data: dict[str, Any]) -> str:
    history = data["history"]
    nps_rows = "".join(
        f'<li><b class="nps nps-{_nps_kind(n["s"])}">{n["s"]}</b> '
        f'<span class="muted small">{e(when(parse_time(n.get("at"))))}</span>'
        + (f'<div class="quote">{e(n["cm"])}</div>' if n.get("cm") else "")
        + "</li>"
        for n in data["nps"][:5]
    )
    tickets = "".join(
        f"<tr><td>{e(t['id'])}</td><td>{e(t.get('st'))}</td><td>{e(t.get('pr'))}</td>"
        f"<td>{e(t.get('su') or '')}</td>"
        f'<td class="muted small">{e(when_short(parse_time(t.get("at"))))}</td></tr>'
        for t in data["tickets"][:8]
    )
    usage = [(t, v * 100) for t, v in component_series(history, "usage")]
    nps_trend = [
        (moment, float(n["s"]))
        for n in reversed(data["nps"])
        if (moment := parse_time(n.get("at"))) is not None
    ]
    return (
        "<h2>Signals</h2>"
        '<div class="signal"><h3>NPS</h3>'
        + sparkline(nps_trend, "NPS trend", 0, 10)
        + (f'<ul class="nps-list">{nps_rows}</ul>' if nps_rows else '<p class="muted">No '
           "responses seen.</p>")
        + '</div><div class="signal"><h3>Usage: active seats %</h3>'
        + sparkline(usage, "usage trend", 0, 100)
        + '</div><div class="signal"><h3>Support: open high/urgent tickets</h3>'
        + sparkline(component_series(history, "support"), "support trend", 0, 10)
        + (
            '<table class="tickets"><thead><tr><th>Ticket</th><th>Status</th><th>Priority</th>'
            f"<th>Subject</th><th>When</th></tr></thead><tbody>{tickets}</tbody></table>"
            if tickets
            else '<p class="muted">No recent ticket events.</p>'
        )
        + "</div>"
    )


def _feedback_words(fb: dict[str, Any]) -> str:
    source = fb.get("source") or "?"
    text = f"by {e(fb.get('by') or 'someone')} via {e(source)}"
    if fb.get("until"):
        text += f", until {e(when(parse_time(fb['until'])))}"
    if fb.get("reason"):
        text += f" ({e(fb['reason'])})"
    if fb.get("note"):
        text += f': “{e(fb["note"])}”'
    return text


def _nps_kind(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def _history(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return '<h2>Task history</h2><p class="empty">No tasks yet.</p>'
    rows = []
    for t in entries[:60]:
        person = t.get("feedback")
        if person:
            reason = _feedback_words(person)
            rows.append(
                f'<tr class="hist-feedback"><td class="muted small">'
                f'{e(when(parse_time(t.get("at"))))}</td><td><i>{e(t.get("a"))}</i></td>'
                f'<td>{e(t.get("pb"))}</td><td></td><td>{reason}</td></tr>'
            )
            continue
        rows.append(
            f'<tr class="hist-{e(t.get("a"))}"><td class="muted small">'
            f'{e(when(parse_time(t.get("at"))))}</td><td><b>{e(t.get("a"))}</b></td>'
            f'<td>{e(t.get("pb"))}</td><td>{e(t.get("pr"))}</td>'
            f'<td>{e(t.get("r"))}</td></tr>'
        )
    return (
        '<h2>Task history</h2><table class="history"><thead><tr><th>When</th><th>Action</th>'
        "<th>Playbook</th><th>Priority</th><th>Reason</th></tr></thead>"
        f'<tbody>{"".join(rows)}</tbody></table>'
    )
