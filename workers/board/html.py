"""Server-side HTML: the page layout and the small formatting helpers every page uses.

Everything that comes from data goes through `e()` (HTML-escaped, quotes included). Pages
load only /static/board.css and /static/board.js (the Content-Security-Policy allows nothing
inline), so the board works without JavaScript except for live updates.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote

from workers.board.auth import User

BAND_LABEL = {"champion": "Champion", "healthy": "Healthy", "at_risk": "At risk",
              "critical": "Critical"}


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def url_part(value: str) -> str:
    return quote(value, safe="")


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def when_short(moment: datetime | None) -> str:
    return moment.strftime("%b %d, %H:%M") if moment else "—"


def span(moment: datetime, now: datetime) -> str:
    """How far `moment` is from `now`, in words ("5 min", "3 h", "4 days")."""
    seconds = abs((moment - now).total_seconds())
    if seconds < 3600:
        return f"{max(1, int(seconds // 60))} min"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"


def relative(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return ""
    if abs((moment - now).total_seconds()) < 120:
        return "just now"
    amount = span(moment, now)
    return f"in {amount}" if moment >= now else f"{amount} ago"


def money(amount: float | None) -> str:
    if amount is None:
        return "—"
    if amount >= 1_000_000:
        return f"${amount / 1_000_000:.1f}M"
    if amount >= 1_000:
        return f"${amount / 1_000:.0f}k"
    return f"${amount:.0f}"


def band_chip(band: str, score: float | None = None) -> str:
    label = BAND_LABEL.get(band, band or "no score")
    number = f"<b>{score:.0f}</b> " if score is not None else ""
    return f'<span class="chip band-{e(band or "none")}">{number}{e(label)}</span>'


def priority_chip(priority: str) -> str:
    return f'<span class="chip prio-{e(priority)}">{e(priority)}</span>'


def delta(score: float | None, previous: float | None) -> str:
    if score is None or previous is None or score == previous:
        return '<span class="muted">±0</span>'
    change = score - previous
    kind = "up" if change > 0 else "down"
    return f'<span class="delta {kind}">{change:+.0f}</span>'


def account_link(account_id: str, name: str = "") -> str:
    label = f"{e(name)} <span class='muted'>{e(account_id)}</span>" if name else e(account_id)
    return f'<a href="/accounts/{e(url_part(account_id))}">{label}</a>'


def csrf_field(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{e(token)}">'


def layout(
    title: str,
    body: str,
    *,
    user: User | None = None,
    csrf: str = "",
    active: str = "",
    live_since: int | None = None,
    page: str = "",
    page_key: str = "",
    trusted_header: bool = False,
) -> str:
    nav = ""
    if user is not None:
        links = [("book", "/", "My book" if not user.is_lead else "Book")]
        if user.is_lead:
            links.append(("team", "/team", "Team"))
        items = "".join(
            f'<a class="{"active" if name == active else ""}" href="{href}">{label}</a>'
            for name, href, label in links
        )
        sign_out = (
            ""
            if trusted_header
            else f'<form method="post" action="/logout" class="inline">{csrf_field(csrf)}'
            '<button class="link">Sign out</button></form>'
        )
        role = "CS lead" if user.is_lead else f"CSM · {e(user.csm_id)}"
        nav = (
            f'<nav><span class="brand">cs-signals board</span>{items}'
            f'<span class="spacer"></span><span class="live-dot" id="live-status" '
            f'title="live updates">live</span>'
            f'<span class="who">{e(user.display)} <span class="muted">({role})</span></span>'
            f"{sign_out}</nav>"
        )
    data = ""
    if live_since is not None:
        data = f' data-live-since="{live_since}" data-page="{e(page)}" data-key="{e(page_key)}"'
    script = '<script src="/static/board.js" defer></script>' if user is not None else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · cs-signals</title>"
        '<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/board.css">'
        f"{script}</head><body{data}>{nav}<main>{body}</main>"
        '<div id="toasts" aria-live="polite"></div></body></html>'
    )


def section(name: str, html: str, live: bool = True) -> str:
    """A part of a page that live updates re-render (fetched from /fragment/…)."""
    attr = f' data-section="{e(name)}"' if live else ""
    return f'<section id="s-{e(name)}"{attr}>{html}</section>'


def message_page(title: str, text: str, status_note: str = "") -> str:
    body = f'<div class="card narrow"><h1>{e(title)}</h1><p>{e(text)}</p>{status_note}</div>'
    return layout(title, body)
