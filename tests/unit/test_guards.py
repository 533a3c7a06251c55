"""The alert-quality guards (workers/core/guards.py, rules.yaml): the edges where each one lets
a trigger fire and where it keeps it quiet."""

from __future__ import annotations

import pytest

from config.rules import RulesError
from events.models import NpsEvent
from workers.core.book import BookActivity
from workers.core.guards import longest_gap, significant, silence_limit, trend_score
from workers.core.testing import T0, Sim, at, rules_with
from workers.core.users import UserRecord

CORE = ("dashboards", "reports", "alerts", "integrations", "automation", "exports")


def new(**facts: object) -> Sim:
    sim = Sim()
    base = {"segment": "mid_market", "licensed_seats": 200, "csm_id": "csm-1"}
    sim.account(at(0), **{**base, **facts})
    return sim


# --- usage_drop -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "fires"),
    [
        (20, 14, False),  # 30%, but 6 users lost is within sqrt(34) x 2
        (20, 8, True),  # 12 lost >= 2 x sqrt(28) = 10.6
        (9, 0, False),  # under 10 users the week before
        (10, 0, True),  # the smallest eligible week
        (200, 140, True),  # 30% of a big account is significant
    ],
)
def test_usage_drop_needs_population_and_significance(before: int, after: int, fires: bool) -> None:
    sim = new()
    sim.daily_usage(0, 14, before)
    sim.daily_usage(14, 14, after)
    sim.advance(at(28, 1))
    assert sim.actions("usage_drop") == (["opened"] if fires else [])


def test_significance_edges() -> None:
    assert significant(20, 8, 2.0)
    assert not significant(20, 14, 2.0)
    assert significant(20, 14, 0)


def test_a_one_week_holiday_raises_no_usage_drop() -> None:
    sim = new()
    sim.daily_usage(0, 14, 40)
    sim.daily_usage(14, 7, 8)  # everyone but 8 people off for a week
    sim.daily_usage(21, 14, 40)
    sim.advance(at(35, 1))
    assert sim.actions("usage_drop") == []


def test_a_lasting_drop_fires_once_confirmed_over_three_days() -> None:
    sim = new()
    sim.daily_usage(0, 14, 40)
    sim.daily_usage(14, 14, 8)
    sim.advance(at(28, 1))
    [task] = sim.of("usage_drop")
    # Days 14-20 complete the first low week (day 21); the windows ending on days 20, 21 and
    # 22 are all low against the weeks before them on day 23.
    assert task.created_at == at(23)
    assert task.evidence["confirmed_days"] == 3
    assert task.evidence["baseline_active_users"] == 40
    assert "held 3 days running" in task.reason


def test_a_slow_decline_fires_against_four_weeks_earlier() -> None:
    sim = new()
    sim.daily_usage(0, 7, 60)
    # About 10% a week: never 30% week over week.
    for week, users in enumerate([54, 49, 44, 40, 40], start=1):
        sim.daily_usage(7 * week, 7, users)
    sim.advance(at(42, 1))
    [task] = sim.of("usage_drop")
    assert task.evidence["baseline_weeks_before"] == 4
    assert task.evidence["baseline_active_users"] == 60
    assert "over 4 weeks (60 → 40)" in task.reason


def _weekly(
    sim: Sim, users_per_week: list[int], features: tuple[str, ...] = ("dashboards",)
) -> None:
    for week, users in enumerate(users_per_week):
        sim.daily_usage(7 * week, 7, users, features=features)


@pytest.mark.parametrize("long_weeks", [7, 0])
def test_a_decline_slower_than_a_month_fires_against_seven_weeks_earlier(long_weeks: int) -> None:
    sim = Sim(rules_with(playbooks={"usage_drop": {"params": {"long_decline_weeks": long_weeks}}}))
    sim.account(at(0), segment="mid_market", licensed_seats=200)
    # 2 users a week: never 30% over 4 weeks (36 -> 28 at most), 35% over 7 (40 -> 26).
    _weekly(sim, [40, 38, 36, 34, 32, 30, 28, 26, 24])
    sim.advance(at(63, 1))
    tasks = sim.of("usage_drop")
    if not long_weeks:
        assert tasks == []
        return
    [task] = tasks
    assert task.evidence["baseline_weeks_before"] == 7
    assert task.evidence["baseline_active_users"] == 40
    assert "over 7 weeks (40 → " in task.reason
    # The windows ending on days 49-51 hold the 28 users of week 6 and 26 of week 7, 30%
    # under the first days' 40: confirmed on day 52.
    assert task.created_at == at(52)


@pytest.mark.parametrize(("still_falling", "fires"), [(0.10, False), (0.0, True)])
def test_a_slump_that_fell_and_holds_its_level_is_no_long_decline(
    still_falling: float, fires: bool
) -> None:
    params = {"long_decline_still_falling": still_falling}
    sim = Sim(rules_with(playbooks={"usage_drop": {"params": params}}))
    sim.account(at(0), segment="mid_market", licensed_seats=200)
    # 30% over 7 weeks, but level for the last four (a season, not a customer leaving).
    _weekly(sim, [40, 37, 34, 31, 29, 28, 28, 28, 28, 28])
    sim.advance(at(70, 1))
    tasks = sim.of("usage_drop")
    assert [t.evidence["baseline_weeks_before"] for t in tasks] == ([7] if fires else [])


def test_trend_score_is_mann_kendall() -> None:
    assert trend_score([7, 6, 5, 4, 3, 2, 1, 0]) == pytest.approx(-3.34, abs=0.01)
    assert trend_score([4, 4, 3, 3, 3, 2, 2, 2]) == pytest.approx(-2.65, abs=0.01)
    assert trend_score([5] * 8) == 0.0
    assert trend_score([5, 6, 5, 6, 5, 6, 5, 4]) > -1  # a small account's wobble
    assert trend_score([0, 1, 2, 3, 4, 5, 6, 7]) == pytest.approx(3.34, abs=0.01)


@pytest.mark.parametrize(
    ("weekly", "trend_z", "fires"),
    [
        ([4, 4, 4, 3, 3, 3, 2, 2, 2], 2.5, True),  # a 4-user account losing one every 3 weeks
        ([4, 4, 4, 3, 3, 3, 2, 2, 2], 0.0, False),  # switched off: too small for any z test
        ([4, 3, 4, 4, 3, 4, 4, 3, 2], 2.5, False),  # a wobble and one bad week
        ([6, 6, 6, 5, 4, 4, 4, 4, 4], 2.5, False),  # fell, then held its level
    ],
)
def test_a_tiny_account_falling_week_after_week(
    weekly: list[int], trend_z: float, fires: bool
) -> None:
    params = {"trend_significance_z": trend_z}
    sim = Sim(rules_with(playbooks={"usage_drop": {"params": params}}))
    sim.account(at(0), segment="smb", licensed_seats=5, csm_id="csm-1")
    _weekly(sim, weekly)
    sim.advance(at(63, 1))
    tasks = sim.of("usage_drop")
    assert len(tasks) == (1 if fires else 0)
    if fires:
        assert "steadily week after week" in tasks[0].reason
        assert "too few users for a z test" in tasks[0].reason
        assert tasks[0].evidence["trend_significance_z"] == 2.5


def test_long_decline_weeks_cannot_read_past_the_kept_history() -> None:
    with pytest.raises(RulesError, match="long_decline_weeks"):
        rules_with(playbooks={"usage_drop": {"params": {"long_decline_weeks": 8}}})


def test_a_step_down_counts_only_once_it_held_two_weeks() -> None:
    sim = new()
    sim.daily_usage(0, 28, 40)
    sim.daily_usage(28, 21, 26)  # 35% down in one step (too few users lost for the z test)
    sim.advance(at(49, 1))
    [task] = sim.of("usage_drop")
    assert task.evidence["baseline_weeks_before"] == 2
    assert "in a step that held 2 weeks (40 → 26), every week since as low" in task.reason
    # Not in the step's first week (a seasonal slump?): 16 days after it, once the week
    # before the last was down too and the three confirming windows held.
    assert task.created_at == at(44)


@pytest.mark.parametrize(
    ("before", "after", "step_weeks", "opened_on"),
    [
        (7, 3, 2, 30),  # a small account that halved and stayed: 16 days after the step
        (7, 3, 0, 31),  # without the step rule, the 4-week decline (here a day later)
        (6, 4, 2, None),  # two people out for two weeks: 2 lost < sqrt(10)
        (7, 5, 2, None),  # under 30%
    ],
)
def test_a_small_account_that_steps_down_and_stays(
    before: int, after: int, step_weeks: int, opened_on: int | None
) -> None:
    sim = Sim(rules_with(playbooks={"usage_drop": {"params": {"step_weeks": step_weeks}}}))
    sim.account(at(0), segment="smb", licensed_seats=9)
    sim.daily_usage(0, 14, before)
    sim.daily_usage(14, 21, after)
    sim.advance(at(35, 1))
    tasks = sim.of("usage_drop")
    assert [t.created_at for t in tasks] == ([at(opened_on)] if opened_on is not None else [])


def test_a_spike_and_fall_is_not_a_decline() -> None:
    sim = new()
    sim.daily_usage(0, 7, 40)
    sim.daily_usage(7, 7, 48)  # a week above where it started
    sim.daily_usage(14, 21, 40)
    sim.advance(at(35, 1))
    assert sim.actions("usage_drop") == []


# --- champion_silent ------------------------------------------------------------------------


def test_champion_silence_limit_follows_their_rhythm() -> None:
    assert silence_limit(14, 1.5, 3) == 14  # a weekday champion: the floor
    assert silence_limit(14, 1.5, 12) == 18  # took 12 days off before
    assert silence_limit(14, 0, 30) == 14  # rhythm off


def test_longest_gap_reads_the_mask() -> None:
    assert longest_gap(None) == 0
    assert longest_gap(UserRecord(0.0, 0b1)) == 0
    assert longest_gap(UserRecord(0.0, 0b1001)) == 3
    assert longest_gap(UserRecord(0.0, 0b1 | 1 << 10 | 1 << 12)) == 10


def _champion_days(sim: Sim, days: list[int]) -> None:
    for d in days:
        sim.usage(at(d, 9), "champ", "dashboards")


@pytest.mark.parametrize(("silent_days", "fires"), [(18, False), (19, True)])
def test_a_regular_champion_is_silent_after_18_days(silent_days: int, fires: bool) -> None:
    sim = new(champion_user_id="champ")
    _champion_days(sim, list(range(0, 30)))
    sim.advance(at(29 + silent_days, 10))
    assert sim.actions("champion_silent") == (["opened"] if fires else [])


def test_an_ordinary_week_of_vacation_is_not_silence() -> None:
    sim = new(champion_user_id="champ")
    # Friday to the Monday 10 days later: a week off with its weekends.
    _champion_days(sim, [*range(0, 20), *range(30, 45)])
    sim.advance(at(45, 1))
    assert sim.actions("champion_silent") == []


def test_a_two_week_summer_vacation_is_not_silence() -> None:
    sim = new(champion_user_id="champ")
    # Friday (day 19) to the Monday 17 days later: 16 whole days without the champion.
    _champion_days(sim, [*range(0, 20), *range(36, 45)])
    sim.advance(at(45, 1))
    assert sim.actions("champion_silent") == []


def test_a_champion_who_took_long_breaks_gets_a_longer_limit() -> None:
    sim = new(champion_user_id="champ")
    _champion_days(sim, [0, 12, 24, 36])  # every 12 days: limit 18
    sim.advance(at(36 + 18, 10))
    assert sim.actions("champion_silent") == []
    sim.advance(at(36 + 19, 10))
    [task] = sim.of("champion_silent")
    assert task.evidence["usual_longest_gap_days"] == 12
    assert task.evidence["silence_limit_days"] == 18


# --- expansion_signal -----------------------------------------------------------------------


@pytest.mark.parametrize(("seats", "fires"), [(29, False), (30, True)])
def test_expansion_needs_enough_seats(seats: int, fires: bool) -> None:
    sim = new(licensed_seats=seats, champion_user_id="user-0")
    sim.daily_usage(0, 14, seats, features=CORE)
    sim.advance(at(14, 1))
    assert sim.actions("expansion_signal") == (["opened"] if fires else [])


def test_expansion_needs_two_weeks_at_the_ratio() -> None:
    sim = new(licensed_seats=40, champion_user_id="user-0")
    sim.daily_usage(0, 7, 30, features=CORE)  # 75%
    sim.daily_usage(7, 7, 38, features=CORE)  # 95%: one week
    sim.advance(at(14, 1))
    assert sim.actions("expansion_signal") == []
    sim.daily_usage(14, 7, 38, features=CORE)
    sim.advance(at(21, 1))
    assert sim.actions("expansion_signal") == ["opened"]


@pytest.mark.parametrize("slow_weeks", [7, 0])
def test_a_small_account_growing_a_person_every_few_weeks_is_expansion(slow_weeks: int) -> None:
    params = {"small_slow_growth_weeks": slow_weeks}
    sim = Sim(rules_with(playbooks={"expansion_signal": {"params": params}}))
    sim.account(at(0), segment="smb", licensed_seats=15, csm_id="csm-1", champion_user_id="user-0")
    # Never 20% up on the weeks 3-4 before while 90% of the seats are in use two weeks running.
    _weekly(sim, [10, 10, 10, 11, 11, 11, 12, 13, 14, 14, 14], features=CORE)
    sim.advance(at(77, 1))
    tasks = sim.of("expansion_signal")
    if not slow_weeks:
        assert tasks == []
        return
    [task] = tasks
    assert "grew from 10 to 14 in 7-8 weeks" in task.reason
    assert task.created_at <= at(64)


# --- status: churned ------------------------------------------------------------------------


def test_a_churned_account_resolves_its_tasks_and_gets_no_more() -> None:
    sim = new(champion_user_id="champ")
    sim.nps(at(1, 9), 2)
    assert sim.actions("nps_detractor") == ["opened"]
    sim.account(at(2), status="churned")
    [_, resolved] = sim.of("nps_detractor")
    assert resolved.action == "resolved"
    assert resolved.reason == "The account was marked churned on 2026-03-04; it gets no more tasks."
    sim.nps(at(3, 9), 0)
    sim.advance(at(60))  # the champion silent, usage gone, renewal-free: nothing
    assert [t.action for t in sim.tasks] == ["opened", "resolved"]


def test_an_account_active_again_gets_tasks_again() -> None:
    sim = new()
    sim.account(at(1), status="churned")
    sim.nps(at(2, 9), 2)
    assert sim.of("nps_detractor") == []
    sim.account(at(3), status="active")
    sim.nps(at(4, 9), 2)
    assert sim.actions("nps_detractor") == ["opened"]


# --- the book baseline ----------------------------------------------------------------------


def _book(sim: Sim, first_day: int, days: int, off: range = range(0)) -> BookActivity:
    """The rest of a 30-account book around the simulated account: 300 user-days a day, a
    tenth of it on days in `off` (relative to T0)."""
    book = BookActivity()
    base = int(T0.timestamp() // 86400)
    for d in range(first_day, first_day + days):
        book.user_days[base + d] = 30 if d in off else 300
        book.accounts[base + d] = 30
    sim.state.book = book
    return book


def test_book_level_change_and_days_off() -> None:
    book = BookActivity()
    for d in range(0, 42):
        book.user_days[d] = 100 if 35 <= d < 42 else 300
        book.accounts[d] = 25
    assert book.level(34, 20) == pytest.approx(1.0)
    assert book.level(41, 20) == pytest.approx(1 / 3)
    assert book.change(41, 1, 20) == pytest.approx(1 / 3)
    assert book.quiet_day(36, 20, 0.5) and not book.quiet_day(34, 20, 0.5)
    assert book.level(41, 26) is None  # too few accounts share it to say
    again = BookActivity.from_bytes(book.to_bytes())
    assert again == book
    with pytest.raises(ValueError, match="unknown version"):
        BookActivity.from_bytes(b'{"v": 9}')


def test_a_holiday_the_whole_book_shares_raises_no_usage_drop_or_health_alarm() -> None:
    # Two weeks off: the three-day confirmation alone does not cover the second week.
    sim = new(licensed_seats=50, champion_user_id="user-0")
    _book(sim, 0, 77, off=range(42, 56))
    sim.daily_usage(0, 42, 40, features=CORE)
    sim.daily_usage(42, 14, 4, features=CORE)  # 90% out, as deep as the book
    sim.daily_usage(56, 21, 40, features=CORE)
    sim.advance(at(77, 1))
    assert sim.actions("usage_drop") == []
    assert sim.actions("health_at_risk") == []
    # Without the book the same account alarms.
    alone = Sim(rules_with(book_baseline={"enabled": False}))
    alone.account(at(0), segment="mid_market", licensed_seats=50, champion_user_id="user-0")
    alone.daily_usage(0, 42, 40, features=CORE)
    alone.daily_usage(42, 14, 4, features=CORE)
    alone.advance(at(56, 1))
    assert alone.actions("usage_drop") == ["opened"]


def test_an_account_dropping_while_the_book_does_not_still_alarms() -> None:
    sim = new()
    _book(sim, 0, 42)
    sim.daily_usage(0, 21, 40)
    sim.daily_usage(21, 14, 8)
    sim.advance(at(35, 1))
    assert sim.actions("usage_drop") == ["opened"]


def _peers(book: BookActivity, first_day: int, days: int, dipped: float) -> None:
    """30 peers speak every day of [first_day, first_day + days), a `dipped` share in a dip."""
    base = int(T0.timestamp() // 86400)
    for d in range(first_day, first_day + days):
        book.peers[base + d] = 30
        book.dipped[base + d] = round(30 * dipped)


def _usage(sim: Sim, before: int, after: int) -> None:
    sim.daily_usage(0, 21, before)
    sim.daily_usage(21, 14, after)


@pytest.mark.parametrize(
    ("peers_dipped", "after", "fires"),
    [
        (0.10, 65, True),  # 35%, few peers in a dip: the account's own alarm
        (0.20, 65, False),  # 35% while a fifth of the peers dip: their slump
        (0.20, 55, True),  # 45% is deeper than a slump, cohort or not
        (0.20, 62, False),  # 38%: under the cohort's 40%
    ],
)
def test_a_drop_many_peers_share_needs_the_cohort_threshold(
    peers_dipped: float, after: int, fires: bool
) -> None:
    sim = new()
    _peers(_book(sim, 0, 42), 0, 42, peers_dipped)
    _usage(sim, 100, after)
    sim.advance(at(35, 1))
    assert sim.actions("usage_drop") == (["opened"] if fires else [])
    if fires and peers_dipped >= 0.2:
        [task] = sim.of("usage_drop")
        assert task.evidence["drop_threshold"] == 0.4
        assert task.evidence["peer_dip_share"] == pytest.approx(0.2, abs=0.03)
        assert "dipped in the same week: a shared slump needs 40%" in task.reason


@pytest.mark.parametrize(
    ("peers_dipped", "before", "after", "cohort_z", "fires"),
    [
        # 9 -> 4 in a step held two weeks: 56%, deeper than the cohort's 40%, at z 1.39.
        (0.10, 9, 4, 2.0, True),  # few peers in a dip: the decline's own z of 1 holds
        (0.20, 9, 4, 2.0, False),  # a fifth of the peers dip: a small account's luck
        (0.20, 9, 4, 0.0, True),  # the setting off: the route's own z again
        (0.20, 30, 14, 2.0, True),  # 53% of 30 users is z 2.4: more than luck in any slump
    ],
)
def test_in_a_shared_slump_a_drop_must_be_significant_at_the_cohort_z(
    peers_dipped: float, before: int, after: int, cohort_z: float, fires: bool
) -> None:
    sim = Sim(rules_with(playbooks={"usage_drop": {"params": {"cohort_significance_z": cohort_z}}}))
    sim.account(at(0), segment="mid_market", licensed_seats=200, csm_id="csm-1")
    _peers(_book(sim, 0, 42), 0, 42, peers_dipped)
    _usage(sim, before, after)
    sim.advance(at(38, 1))  # the step held 2 weeks, confirmed 3 days
    assert sim.actions("usage_drop") == (["opened"] if fires else [])
    if fires:
        [task] = sim.of("usage_drop")
        shared = peers_dipped >= 0.2 and cohort_z > 0
        assert ("significant (z ≥ 2)" in task.reason) == shared


def test_the_cohort_guard_switched_off_lets_a_shared_slump_alarm() -> None:
    sim = Sim(rules_with(book_baseline={"cohort_share": 0}))
    sim.account(at(0), segment="mid_market", licensed_seats=200)
    _peers(_book(sim, 0, 42), 0, 42, 0.3)
    _usage(sim, 100, 65)
    sim.advance(at(35, 1))
    [task] = sim.of("usage_drop")
    assert "peer_dip_share" not in task.evidence


def test_peers_count_an_account_in_a_dip_against_weeks_three_and_four() -> None:
    usage_sim = new()
    usage_sim.daily_usage(0, 28, 20)
    usage_sim.daily_usage(28, 7, 15)  # 25% under the usual 20
    usage_sim.daily_usage(35, 1, 15)  # the newest day moves past day 34
    usage = usage_sim.state.usage
    base = int(T0.timestamp() // 86400)
    book = BookActivity()
    book.note_peer(usage, base + 34, 0.8, 5)
    book.note_peer(usage, base + 34, 0.7, 5)  # 15 is not under 70% of 20
    book.note_peer(usage, base + 29, 0.8, 5)  # the usual level itself
    book.note_peer(usage, base + 27, 0.8, 5)  # no usual: the week 4 weeks before is empty
    book.note_peer(usage, base + 34, 0.8, 21)  # too small to say
    assert book.peers == {base + 34: 2, base + 29: 1}
    assert book.dipped == {base + 34: 1}


def test_an_account_notes_one_peer_reading_a_day_at_its_first_event_of_the_next() -> None:
    sim = new()
    book = BookActivity()
    sim.state.book = book
    sim.daily_usage(0, 35, 20)  # 20 users a day, each with one event a day
    base = int(T0.timestamp() // 86400)
    # Days 0-27 have no usual yet (the week 4 weeks before them is empty); day 34 is read at
    # the first event of day 35, which has not come.
    assert book.peers == {base + d: 1 for d in range(28, 34)}
    assert book.dipped == {}
    sim.daily_usage(35, 1, 5)  # day 35 arrives: day 34 (still 20 users) is read, no dip
    assert book.peers[base + 34] == 1 and book.dipped == {}


def test_the_cohort_share_reads_the_week_every_peer_has_spoken_for() -> None:
    book = BookActivity()
    for d in range(0, 14):
        book.peers[d] = 25
        book.dipped[d] = 5 if d < 7 else 0
    assert book.cohort_share(9, 20) == pytest.approx(6 * 5 / (7 * 25))  # days 1-7: 6 with dips
    assert book.cohort_share(8, 20) == pytest.approx(0.2)  # days 0-6, all dipped
    assert book.cohort_share(8, 26) is None  # too few peers to say
    assert BookActivity.from_bytes(book.to_bytes()) == book
    # A version-1 value (before peers) decodes with none yet.
    old = BookActivity.from_bytes(b'{"v":1,"u":[[3,10]],"a":[[3,2]]}')
    assert old.user_days == {3: 10} and old.peers == {} and old.dipped == {}


def test_champion_silence_does_not_count_the_book_days_off() -> None:
    sim = new(champion_user_id="champ")
    _book(sim, 0, 60, off=range(35, 42))
    _champion_days(sim, list(range(0, 30)))
    sim.advance(at(29 + 22, 10))  # 22 days silent, 7 of them the book's week off
    assert sim.actions("champion_silent") == []
    sim.advance(at(29 + 26, 10))
    [task] = sim.of("champion_silent")
    assert task.evidence["book_days_off"] == 7
    assert "days the whole book was off" in task.reason


def _season(sim: Sim, peers_dipped: float, during: int, after: int = 0) -> None:
    """35 usual days (20 users and the champion daily), then a 4-week season break: `during`
    users a day, the champion away, and `peers_dipped` of the partition's peers in a dip (10%
    otherwise); then `after` days with the 20 users back, the champion still away."""
    book = _book(sim, 0, 63 + after + 7)
    _peers(book, 0, 35, 0.10)
    _peers(book, 35, 28, peers_dipped)
    _peers(book, 63, after + 7, 0.10)
    for day in range(35):
        _champion_days(sim, [day])
        sim.daily_usage(day, 1, 20)
    sim.daily_usage(35, 28, during)
    sim.daily_usage(63, after, 20)


@pytest.mark.parametrize(
    ("peers_dipped", "during", "fires"),
    [
        (0.20, 12, False),  # a fifth of the peers dip, the account with them: their break
        (0.10, 12, True),  # few peers dip: this account's own trouble
        (0.20, 20, True),  # the peers dip, this account does not: its champion is gone
    ],
)
def test_champion_silence_during_a_slump_the_peers_share(
    peers_dipped: float, during: int, fires: bool
) -> None:
    sim = new(champion_user_id="champ")
    _season(sim, peers_dipped, during)
    sim.advance(at(34 + 27, 10))  # 27 days silent, 18 the limit
    assert sim.actions("champion_silent") == (["opened"] if fires else [])
    if fires:
        [task] = sim.of("champion_silent")
        assert task.created_at == at(34 + 19, 9)
        if peers_dipped >= 0.15:  # the slump was there, the account's users were not in it
            assert task.evidence["peer_slump_days"] > 0
            assert "the account's other users are not in it" in task.reason


def test_a_champion_still_away_when_the_others_are_back_is_silent() -> None:
    sim = new(champion_user_id="champ")
    _season(sim, 0.20, 12, after=7)
    # The others are back on day 63, the champion is not: the next day the whole silence
    # counts again.
    [task] = sim.of("champion_silent")
    assert task.created_at == at(64)
    assert 20 <= task.evidence["peer_slump_days"] <= 28
    assert "in a slump its peers shared, but the account's other users are not in it" in (
        task.reason
    )


def test_a_slump_sets_aside_a_silence_only_within_the_accounts_exact_history() -> None:
    sim = new(champion_user_id="champ")
    book = _book(sim, 0, 104)
    _peers(book, 0, 104, 0.10)
    _peers(book, 38, 13, 0.20)  # the peers' slump: read at 15% or more from day 38
    for day in range(35):
        _champion_days(sim, [day])
        sim.daily_usage(day, 1, 20)
    sim.daily_usage(35, 65, 12)  # the account dips from day 35 on, and stays down
    # Set aside from day 38 on while the account stays down; past the 57 days of exact 7-day
    # counts the week before the silence cannot be read, and the silence counts whole.
    [task] = sim.of("champion_silent")
    assert task.created_at.date() == at(34 + 58).date()
    assert task.evidence["peer_slump_days"] > 40
    assert "a silence of more than 57 days counts whole" in task.reason
    # Switched off, the same silence fires 18 days after the champion's last day.
    off = Sim(rules_with(playbooks={"champion_silent": {"params": {"peer_slump_days_off": False}}}))
    off.account(at(0), segment="mid_market", licensed_seats=200, champion_user_id="champ")
    _season(off, 0.20, 12)
    off.advance(at(34 + 27, 10))
    [early] = off.of("champion_silent")
    assert early.created_at == at(34 + 19, 9)
    assert early.evidence["peer_slump_days"] == 0


# --- health_at_risk and nps_detractor -------------------------------------------------------


def test_health_at_risk_opens_once_the_band_held_four_days() -> None:
    sim = new()
    sim.nps(at(0, 1), 2)  # 100 -> 60 (satisfaction and support only): at risk from above
    sim.advance(at(4, 0, 59))
    assert sim.actions("health_at_risk") == []
    sim.advance(at(4, 2))
    [task] = sim.of("health_at_risk")
    assert task.created_at == at(4, 1)  # four days after entering the band
    assert "has stayed there 4 days" in task.reason


def test_a_dip_under_70_that_recovers_within_four_days_opens_nothing() -> None:
    sim = new()
    sim.nps(at(0, 1), 2)
    sim.nps(at(2, 1), 9)  # back to 100 two days later
    sim.advance(at(10))
    assert sim.actions("health_at_risk") == []


@pytest.mark.parametrize(
    ("score", "second_sign", "fires"),
    [
        (4, None, True),  # a strong detractor always
        (6, None, False),  # a mild one from a healthy account with steady usage
        (6, "repeat", True),
        (6, "champion", True),
        (6, "usage", True),
    ],
)
def test_a_mild_detractor_needs_a_second_sign(
    score: int, second_sign: str | None, fires: bool
) -> None:
    sim = new(licensed_seats=20, champion_user_id="user-0")
    users = 18 if second_sign == "usage" else 10
    sim.daily_usage(0, 21, users, features=CORE)
    sim.daily_usage(21, 14, 10, features=CORE)  # usage: 18 -> 10 is a slide, 10 -> 10 steady
    if second_sign == "repeat":
        sim.nps(at(20, 9), 6)
    respondent = "user-0" if second_sign == "champion" else "someone"
    sim.apply(
        NpsEvent(
            event_id="n-last",
            account_id=sim.state.account_id,
            occurred_at=at(35, 9),
            score=score,
            respondent_id=respondent,
        )
    )
    opened = [t for t in sim.of("nps_detractor") if t.created_at == at(35, 9)]
    updated_or_opened = bool(opened)
    assert updated_or_opened == fires


@pytest.mark.parametrize("book", [True, False])
def test_a_holiday_between_two_weeks_at_the_ratio_still_confirms_expansion(book: bool) -> None:
    # 40 seats: every seat used on day 6, then the whole book's two weeks off, then every seat
    # used again. The weeks off say nothing about demand, so the 7 days before them confirm
    # the ratio; for the account alone, the week before is the holiday: no expansion yet.
    sim = new(licensed_seats=40, champion_user_id="user-0")
    if book:
        _book(sim, -35, 60, off=range(7, 21))
    sim.daily_usage(0, 6, 30, features=CORE)  # 75%
    sim.daily_usage(6, 1, 40, features=CORE)
    sim.daily_usage(7, 14, 3, features=CORE)
    sim.daily_usage(21, 1, 40, features=CORE)
    sim.advance(at(22, 1))
    assert sim.actions("expansion_signal") == (["opened"] if book else [])
