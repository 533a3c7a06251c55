"""The sign-in page, My book and the team view, each as named sections: a full page renders
them all, a live update re-renders one (routes: /fragment/<page>/<section>)."""

from __future__ import annotations

from typing import Any

from workers.board.html import (
    account_link,
    band_chip,
    csrf_field,
    delta,
    e,
    money,
    relative,
    section,
    url_part,
    when,
)
from workers.board.keys import parse_time
from workers.board.store import BANDS_AT_RISK, Account, BoardStore, Task
from workers.board.widgets import View, task_table

BOOK_SECTIONS = ("summary", "tasks", "accounts", "arr", "feed")
TEAM_SECTIONS = ("csms", "risk", "breaches")


def login_page(token: str, error: str = "", next_path: str = "/") -> str:
    problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    return (
        '<div class="card narrow login"><div class="brand-mark">cs-signals board</div>'
        "<h1>Sign in</h1>"
        "<p class=\"muted\">The CSM board: your book, live.</p>"
        f'{problem}<form method="post" action="/login">{csrf_field(token)}'
        f'<input type="hidden" name="next" value="{e(next_path)}">'
        '<label>User <input name="username" autocomplete="username" required autofocus></label>'
        '<label>Password <input name="password" type="password" '
        'autocomplete="current-password" required></label>'
        '<button class="btn primary" type="submit">Sign in</button></form></div>'
    )


# -- My book ---------------------------------------------------------------------------------


async def book_sections(store: BoardStore, view: View, only: str | None = None) -> dict[str, str]:
    accounts = await store.visible_accounts(view.user, view.csm)
    tasks = await store.visible_tasks(view.user, view.csm)
    out: dict[str, str] = {}
    wanted = (only,) if only else BOOK_SECTIONS
    for name in wanted:
        if name == "summary":
            out[name] = _summary(view, accounts, tasks)
        elif name == "tasks":
            out[name] = "<h2>Open tasks</h2>" + task_table(
                view, tasks, empty="No open tasks: nothing needs you right now."
            )
        elif name == "accounts":
            out[name] = _accounts(view, accounts, tasks)
        elif name == "arr":
            out[name] = _arr_at_risk(accounts)
        elif name == "feed":
            out[name] = _feed(await store.recent_feed(view.user), view)
    return out


def book_body(view: View, sections: dict[str, str], csms: list[str]) -> str:
    if view.user.is_lead:
        title = "All accounts" if not view.csm else f"Book of {view.csm}"
        options = "".join(
            f'<option value="{e(c)}"{" selected" if c == view.csm else ""}>{e(c)}</option>'
            for c in csms
        )
        head = (
            f'<div class="head"><h1>{e(title)}</h1><form method="get" action="/" class="filter">'
            f'<label>CSM <select name="csm" data-autosubmit><option value="">everyone</option>'
            f'{options}</select></label><noscript><button>Show</button></noscript></form></div>'
        )
    else:
        head = f'<div class="head"><h1>My book</h1><span class="muted">{e(view.user.csm_id)}'
        head += "</span></div>"
    grid = (
        section("summary", sections["summary"])
        + '<div class="columns"><div class="main-col">'
        + section("tasks", sections["tasks"])
        + section("accounts", sections["accounts"])
        + '</div><aside class="side-col">'
        + section("feed", sections["feed"])
        + section("arr", sections["arr"])
        + "</aside></div>"
    )
    return head + grid


def _summary(view: View, accounts: list[Account], tasks: list[Task]) -> str:
    at_risk = [a for a in accounts if a.band in BANDS_AT_RISK]
    overdue = sum(1 for t in tasks if t.overdue(view.now))
    cards = [
        ("Accounts", str(len(accounts)), ""),
        ("At risk or critical", str(len(at_risk)), "warn" if at_risk else ""),
        ("ARR at risk", money(sum(a.arr_at_risk for a in accounts)), "warn" if at_risk else ""),
        ("Open tasks", str(len(tasks)), ""),
        ("Overdue", str(overdue), "bad" if overdue else ""),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="stat {cls}"><div class="num">{e(value)}</div><div>{e(label)}</div></div>'
        for label, value, cls in cards
    ) + f'</div><p class="muted small clock">As of {e(when(view.now))}</p>'


def _accounts(view: View, accounts: list[Account], tasks: list[Task]) -> str:
    if not accounts:
        return (
            '<h2>Accounts by health</h2><p class="empty">No accounts with a health score yet.</p>'
        )
    open_count: dict[str, int] = {}
    for task in tasks:
        open_count[task["account_id"]] = open_count.get(task["account_id"], 0) + 1
    lead = view.user.is_lead
    rows = []
    ranked = sorted(accounts, key=lambda a: (a.score if a.score is not None else 999))
    for rank, a in enumerate(ranked, start=1):
        rows.append(
            f'<tr data-account="{e(a.account_id)}" class="band-row-{e(a.band)}">'
            f"<td>{rank}</td><td>{account_link(a.account_id, a.name)}</td>"
            f"<td>{e(a.segment)}</td>" + (f"<td>{e(a.csm_id)}</td>" if lead else "")
            + f'<td class="score">{band_chip(a.band, a.score)}</td>'
            f"<td>{delta(a.score, a.previous_score)}</td><td>{money(a.arr)}</td>"
            f"<td>{e(a.renewal_date or '—')}</td><td>{open_count.get(a.account_id, 0)}</td>"
            f'<td class="muted small">{e(relative(a.computed_at, view.now))}</td></tr>'
        )
    head = "<th>#</th><th>Account</th><th>Segment</th>" + ("<th>CSM</th>" if lead else "")
    head += "<th>Health</th><th>Δ</th><th>ARR</th><th>Renewal</th><th>Open</th><th>Scored</th>"
    return (
        "<h2>Accounts by health</h2>"
        f'<table class="accounts"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table>"
    )


def _arr_at_risk(accounts: list[Account]) -> str:
    risky = sorted(
        (a for a in accounts if a.band in BANDS_AT_RISK), key=lambda a: -(a.arr or 0.0)
    )
    if not risky:
        return '<h2>ARR at risk</h2><p class="empty">No account is at risk.</p>'
    unknown = sum(1 for a in risky if a.arr is None)
    note = (
        f'<p class="muted small">{unknown} of them without a known ARR (no <code>arr</code> '
        "in their account events yet).</p>"
        if unknown
        else ""
    )
    rows = "".join(
        f"<tr><td>{account_link(a.account_id, a.name)}</td><td>{band_chip(a.band, a.score)}</td>"
        f'<td class="num">{money(a.arr)}</td></tr>'
        for a in risky[:15]
    )
    return (
        "<h2>ARR at risk</h2><p class=\"muted small\">Accounts at risk or critical, by ARR.</p>"
        f'<table class="arr"><tbody>{rows}</tbody></table>{note}'
    )


def _feed(entries: list[dict[str, Any]], view: View) -> str:
    if not entries:
        return '<h2>Live</h2><ul class="feed"><li class="muted">Nothing yet.</li></ul>'
    items = []
    for entry in entries:
        moment = parse_time(entry.get("due_at"))
        items.append(
            f'<li class="feed-{e(entry.get("action"))}"><b>{e(entry.get("action"))}</b> '
            f'{e(entry.get("playbook"))} · {account_link(entry.get("account_id", ""))}'
            f'<div class="muted small">{e(entry.get("priority"))}, due {e(when(moment))}</div></li>'
        )
    return f'<h2>Live</h2><ul class="feed">{"".join(items)}</ul>'


# -- Team ------------------------------------------------------------------------------------


async def team_sections(
    store: BoardStore, view: View, names: dict[str, str], only: str | None = None
) -> dict[str, str]:
    data = await store.team(view.now)
    out: dict[str, str] = {}
    for name in (only,) if only else TEAM_SECTIONS:
        if name == "csms":
            out[name] = _csms(data, names)
        elif name == "risk":
            out[name] = _risk(data)
        elif name == "breaches":
            out[name] = "<h2>SLA breaches now</h2>" + (
                '<p class="muted small">Open tasks past their due time that nobody acknowledged '
                "or snoozed.</p>" + task_table(view, data["breaches"][:25], empty="None.")
            )
    return out


def team_body(sections: dict[str, str]) -> str:
    return '<div class="head"><h1>Team</h1></div>' + "".join(
        section(name, sections[name]) for name in TEAM_SECTIONS
    )


def _csms(data: dict[str, Any], names: dict[str, str]) -> str:
    per = data["per_csm"]
    weeks = data["weeks"]
    rows = []
    for csm in sorted(per, key=lambda c: (-per[c]["breaching"], -per[c]["overdue"], c)):
        c = per[csm]
        label = names.get(csm, "")
        rows.append(
            f'<tr data-csm="{e(csm)}"><td><a href="/?csm={e(url_part(csm))}">{e(csm)}</a>'
            f' <span class="muted small">{e(label)}</span></td>'
            f"<td>{c['accounts']}</td><td>{c['at_risk']}</td><td>{money(c['arr_at_risk'])}</td>"
            f"<td>{c['open']}</td><td class=\"{'bad' if c['overdue'] else ''}\">{c['overdue']}</td>"
            f"<td class=\"{'bad' if c['breaching'] else ''}\">{c['breaching']}</td>"
            f"<td>{c['late_resolved']}</td><td>{c['risk_this_week']}</td></tr>"
        )
    span_note = f"in the last {len(weeks)} weeks" if weeks else "(no history yet)"
    return (
        "<h2>Open and overdue tasks per CSM</h2>"
        '<table class="team"><thead><tr><th>CSM</th><th>Accounts</th><th>At risk</th>'
        "<th>ARR at risk</th><th>Open</th><th>Overdue</th><th>SLA breaching</th>"
        f"<th>Resolved late<br><span class=\"muted small\">{e(span_note)}</span></th>"
        "<th>Risk tasks this week</th></tr></thead>"
        f'<tbody>{"".join(rows)}</tbody></table>'
    )


def _risk(data: dict[str, Any]) -> str:
    weeks = list(reversed(data["weeks"]))
    risk = data["risk"]
    if not weeks or not risk:
        return '<h2>Risk tasks per week</h2><p class="empty">No risk tasks opened yet.</p>'
    head = "".join(f'<th class="num">{e(w[5:])}</th>' for w in weeks)
    rows = []
    for playbook in sorted(risk, key=lambda p: -sum(risk[p].values())):
        cells = "".join(f'<td class="num">{risk[playbook][w] or ""}</td>' for w in weeks)
        rows.append(f"<tr><td>{e(playbook)}</td>{cells}<td class=\"num\"><b>"
                    f"{sum(risk[playbook].values())}</b></td></tr>")
    totals = "".join(f'<td class="num"><b>{sum(risk[p][w] for p in risk)}</b></td>' for w in weeks)
    return (
        "<h2>Risk tasks per week and playbook</h2>"
        '<p class="muted small">Tasks opened, by the week (Monday, event time) they were opened; '
        "calendar playbooks (renewal, QBR, expansion) are not risk.</p>"
        f'<table class="risk"><thead><tr><th>Playbook</th>{head}<th class="num">Total</th>'
        "</tr></thead>"
        f'<tbody>{"".join(rows)}<tr class="total"><td>All</td>{totals}<td></td></tr></tbody>'
        "</table>"
    )
