"""Usage trigger checks: usage_drop (with its guards), expansion_signal, low_adoption.

Split from triggers.py (which holds the catalogue, CHECKS); the guards themselves are in
guards.py, the book baseline in book.py.
"""

from __future__ import annotations

from typing import Any

from config.rules import CompiledPlaybook

from .eval_context import EvalContext
from .guards import EPS, Baseline, Drop, confirmed_drop
from .lifecycle import Check, Fire
from .state import DAY, TaskState
from .usage import WEEK, users_in_window


def pct(x: float) -> str:
    return f"{round(x * 100):d}%"


def book_baseline(ctx: EvalContext) -> Baseline | None:
    """The partition's book baseline for the guards, or None: the account alone."""
    book = ctx.state.book
    rules = ctx.rules.book_baseline
    return (
        (book, rules.min_accounts, rules.off_week_below)
        if book is not None and rules.enabled
        else None
    )


def check_usage_drop(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    p = pb.params
    m = ctx.metrics
    check = Check()
    a7, p7, change = m["active_users_7d"], m["active_users_prev_7d"], m["usage_change_7d"]
    # The cheap pre-check: the last 7 days are below the threshold against the week before or
    # against `decline_weeks` earlier (the guards then look at the daily windows).
    state = ctx.state
    if a7 is not None and (
        (change is not None and p7 >= p.min_prev_active_users and change <= -p.drop_at_least + EPS)
        or p.decline_weeks > 1
        or p.long_decline_weeks > 1
    ):
        # Windows of completed days only: the verdict holds as long as the day's usage
        # metrics (usage_cache, dropped by a late event) and the peers' reading do.
        today = int(ctx.now // DAY)
        shared = cohort_share(ctx, today)
        threshold, z, slow_z, trend_z = (
            p.drop_at_least,
            p.significance_z,
            p.decline_significance_z,
            p.trend_significance_z,
        )
        if shared is not None:
            threshold = max(threshold, p.cohort_drop_at_least)
            if p.cohort_significance_z > 0:
                # In a slump the peers share, a small account's share of it is luck: 9 users
                # with a third of them away lose 5 now and then. Only a loss chance would not
                # make counts, and a count too small to test does not.
                z = max(z, p.cohort_significance_z)
                slow_z = max(slow_z, p.cohort_significance_z)
                trend_z = 0.0
        key = (threshold, z, slow_z, trend_z)
        cached = state.guard_cache
        if (
            cached is not None
            and cached[0] is state.usage_cache
            and cached[1] is p
            and cached[2] == key
        ):
            drop = cached[3]
        else:
            drop = confirmed_drop(
                state.usage,
                today - 1,
                drop_at_least=threshold,
                min_before=p.min_prev_active_users,
                z=z,
                decline_z=slow_z,
                decline_min_before=p.decline_min_prev_active_users,
                decline_prior_below=p.decline_prior_week_below,
                step_weeks=p.step_weeks,
                confirm_days=p.confirm_days,
                decline_weeks=p.decline_weeks,
                long_decline_weeks=p.long_decline_weeks,
                long_decline_recent_below=p.long_decline_still_falling,
                trend_z=trend_z,
                trend_min_before=p.trend_min_prev_active_users,
                book=book_baseline(ctx),
            )
            state.guard_cache = (state.usage_cache, p, key, drop)
        if drop is not None:
            tested_at = z if drop.weeks == 1 else slow_z
            check.fire = _usage_drop_fire(pb, drop, threshold, shared, tested_at)
    if task.open and a7 is not None:
        # Hysteresis against the level before the drop, not week over week: a plateau at the
        # lower level is not a recovery.
        baseline = (
            task.evidence.get("baseline_active_users")
            or task.evidence.get("active_users_prev_7d")
            or 0
        )
        if a7 + EPS >= baseline * (1 - p.resolve_within):
            check.resolve = (
                f"Active users recovered to {a7} in 7 days, within {pct(p.resolve_within)} "
                f"of the {baseline} before the drop."
            )
            check.resolve_evidence = {"active_users_7d": a7, "baseline": baseline}
    return check


def cohort_share(ctx: EvalContext, today: int) -> float | None:
    """The share of the partition's accounts in a dip over the last week (book.py, peers),
    when it reaches `cohort_share`: a slump they share; else None."""
    book = ctx.state.book
    rules = ctx.rules.book_baseline
    if book is None or not rules.enabled or rules.cohort_share <= 0:
        return None
    share = book.cohort_share(today, rules.min_accounts)
    return share if share is not None and share + EPS >= rules.cohort_share else None


def _usage_drop_fire(
    pb: CompiledPlaybook, drop: Drop, threshold: float, shared: float | None, z: float
) -> Fire:
    """The task of a confirmed drop; `z` is the significance its route was tested at."""
    p = pb.params
    fell = (drop.before - drop.after) / drop.before
    cohort = (
        ""
        if shared is None
        else f" ({pct(shared)} of the partition's accounts dipped in the same week: a shared "
        f"slump needs {pct(threshold)})"
    )
    held = f"held {drop.confirmed_days} days running" if drop.confirmed_days > 1 else "now"
    evidence_of = "too few users for a z test" if drop.trend else f"significant (z ≥ {z:g})"
    if drop.weeks == 1:
        what = f"Active users fell {pct(fell)} week over week ({drop.before} → {drop.after})"
    elif drop.trend:
        what = (
            f"Active users fell {pct(fell)} over {drop.weeks} weeks ({drop.before} → "
            f"{drop.after}), steadily week after week (trend score at most "
            f"-{p.trend_significance_z:g})"
        )
    elif drop.step:
        what = (
            f"Active users fell {pct(fell)} in a step that held {drop.weeks} weeks "
            f"({drop.before} → {drop.after}), every week since as low"
        )
    else:
        what = (
            f"Active users fell {pct(fell)} over {drop.weeks} weeks ({drop.before} → "
            f"{drop.after}), no week in between above where it started"
        )
    return Fire(
        priority=pb.rule.priority,
        reason=f"{what}, at or above the {pct(threshold)} drop threshold{cohort}; {evidence_of} "
        f"and {held}.",
        evidence={
            "active_users_7d": drop.after,
            "active_users_prev_7d": drop.before if drop.weeks == 1 else None,
            "baseline_active_users": drop.before,
            "baseline_weeks_before": drop.weeks,
            "usage_change": round(-fell, 4),
            "drop_threshold": threshold,
            "min_prev_active_users": p.min_prev_active_users,
            "significance_z": p.significance_z,
            "confirmed_days": drop.confirmed_days,
            # Only when the steady-fall test found it (trend_significance_z).
            **({"trend_significance_z": p.trend_significance_z} if drop.trend else {}),
            # Only under a shared slump (book.py, peers): the share that raised the threshold.
            **({} if shared is None else {"peer_dip_share": round(shared, 4)}),
        },
    )


def check_expansion_signal(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    p = pb.params
    m = ctx.metrics
    check = Check()
    ratio, score = m["active_users_7d_ratio"], m["health_score"]
    if ratio is None or score is None:
        return check
    seats = m["licensed_seats"] or 0
    demand = None
    if (
        ratio + EPS >= p.min_seat_ratio
        and score >= p.min_health
        and _seat_ratio_held(ctx, seats, p.min_seat_ratio, p.confirm_weeks)
    ):
        demand = _small_account_demand(ctx, seats, m["active_users_7d"], p)
    if demand is not None:
        check.fire = Fire(
            priority=pb.rule.priority,
            reason=(
                f"{m['active_users_7d']} of {m['licensed_seats']} licensed seats ({pct(ratio)}) "
                f"were active in the last 7 days with health {score:g}, at or above the "
                f"{pct(p.min_seat_ratio)} expansion threshold"
                + (f" ({demand}, on fewer than {p.min_seats} seats)." if demand else ".")
            ),
            evidence={
                "active_users_7d": m["active_users_7d"],
                "licensed_seats": m["licensed_seats"],
                "active_users_7d_ratio": round(ratio, 4),
                "min_seat_ratio": p.min_seat_ratio,
                "health_score": score,
                "min_health": p.min_health,
                "min_seats": p.min_seats,
                "weeks_at_ratio": p.confirm_weeks,
                "small_account_demand": demand or None,
            },
        )
    if task.open and (ratio < p.resolve_below_ratio or score < p.resolve_below_health):
        check.resolve = (
            f"Seat usage is {pct(ratio)} with health {score:g}, below the "
            f"{pct(p.resolve_below_ratio)} / {p.resolve_below_health:g} expansion levels."
        )
        check.resolve_evidence = {"active_users_7d_ratio": round(ratio, 4), "health_score": score}
    return check


def _small_account_demand(ctx: EvalContext, seats: int, active: int, p: Any) -> str | None:
    """Why the seat ratio means demand: "" for an account of `min_seats` or more; for a
    smaller one, more active users than seats or recent growth; None when it does not."""
    if seats >= p.min_seats:
        return ""
    if active > seats:
        return f"{active} active users on {seats} seats"
    observed = ctx.metrics["observed_days"]
    if observed is None or observed < 5 * WEEK:
        return None  # the weeks to compare with are not all observed yet
    spans = [(3, 4)]
    slow = p.small_slow_growth_weeks
    if slow > 4 and observed >= (slow + 2) * WEEK:
        # A small account growing by a person every few weeks never gains 20% within a
        # month, and its seat ratio holds only once it has grown.
        spans.append((slow, slow + 1))
    baseline = book_baseline(ctx)
    for weeks in spans:
        before = _usual_users(ctx, baseline, weeks)
        if (
            before
            and active - before + EPS >= p.small_growth_min_users
            and active + EPS >= before * (1 + p.small_growth_at_least)
        ):
            return f"active users grew from {before:.0f} to {active} in {weeks[0]}-{weeks[1]} weeks"
    return None


def _usual_users(ctx: EvalContext, baseline: Baseline | None, weeks_back: tuple[int, ...]) -> float:
    """The higher of the 7-day active users that many weeks before yesterday; a week the whole
    book was off (a holiday) counts at its usual level."""
    usage = ctx.state.usage
    yesterday = int(ctx.now // DAY) - 1
    before = 0.0
    for k in weeks_back:
        end = yesterday - WEEK * k
        users = float(users_in_window(usage, end, WEEK))
        level = baseline[0].level(end, baseline[1]) if baseline is not None else None
        off = baseline is not None and level is not None and 0 < level < baseline[2]
        before = max(before, users / level if off else users)
    return before


def _seat_ratio_held(ctx: EvalContext, seats: int, ratio: float, weeks: int) -> bool:
    """The 7-day windows of the `weeks - 1` weeks before the last also reached the ratio. A
    week the whole book was off (a holiday) says nothing about demand: it is skipped (two at
    most) and the week before it counts instead."""
    usage = ctx.state.usage
    yesterday = int(ctx.now // DAY) - 1
    baseline = book_baseline(ctx)
    end, needed, skips = yesterday - WEEK, weeks - 1, 2
    while needed:
        if baseline is not None and skips:
            level = baseline[0].level(end, baseline[1])
            if level is not None and level < baseline[2]:
                end, skips = end - WEEK, skips - 1
                continue
        if users_in_window(usage, end, WEEK) + EPS < ratio * seats:
            return False
        end, needed = end - WEEK, needed - 1
    return True


def check_low_adoption(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    p = pb.params
    m = ctx.metrics
    check = Check()
    adoption, since = m["adoption_ratio"], m["days_since_contract_start"]
    if adoption is None or since is None:
        return check
    observed = m["observed_days"]
    if (
        since >= p.after_contract_days
        and observed is not None
        and observed >= p.min_observed_days
        and adoption + EPS < p.below_ratio
    ):
        check.fire = Fire(
            priority=pb.rule.priority,
            reason=(
                f"{since} days after contract start, {m['core_features_used_30d']} of "
                f"{len(ctx.rules.health.core_features)} core features ({pct(adoption)}) are in "
                f"use, below the {pct(p.below_ratio)} adoption threshold."
            ),
            evidence={
                "days_since_contract_start": since,
                "adoption_ratio": round(adoption, 4),
                "core_features_used_30d": m["core_features_used_30d"],
                "core_features": list(ctx.rules.health.core_features),
                "below_ratio": p.below_ratio,
                "after_contract_days": p.after_contract_days,
                "observed_days": observed,
                "min_observed_days": p.min_observed_days,
            },
        )
    if task.open and adoption + EPS >= p.resolve_at_least:
        check.resolve = f"Adoption reached {pct(adoption)}, at or above {pct(p.resolve_at_least)}."
        check.resolve_evidence = {"adoption_ratio": round(adoption, 4)}
    return check
