"""The accounts of the alt book: their facts, their shape (what happens to them) and outcomes.

Day numbers are indexes into the book (`Calendar.day(i)`); a story may start before the book
(a slow decline already under way), and a negative index simply means "before day 0".
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from altbook.days import REGION_WEIGHTS, RHYTHM_WEIGHTS, Calendar, pick

# Shape -> share of the book (`steady` takes the rest). Churners are ~13%, some of them with
# little or no warning; dips that recover, expanders, small full accounts that never expand
# and downgraders are the look-alikes rules must not confuse with churn.
SHAPE_SHARES: dict[str, float] = {
    "churn_slow": 0.04,
    "churn_champion": 0.03,
    "churn_support": 0.025,
    "churn_quiet": 0.025,
    "churn_sudden": 0.015,
    "dip_recover": 0.05,
    "expander": 0.06,
    "small_full": 0.05,
    "downgrader": 0.03,
}
CHURN_SHAPES = ("churn_slow", "churn_champion", "churn_support", "churn_quiet", "churn_sudden")

SEGMENT_WEIGHTS: dict[str, dict[str, float]] = {
    "default": {"smb": 0.64, "mid_market": 0.30, "enterprise": 0.06},
    "churn": {"smb": 0.70, "mid_market": 0.25, "enterprise": 0.05},
    "expander": {"smb": 0.45, "mid_market": 0.45, "enterprise": 0.10},
}
# Accounts per CSM (DOMAIN.md: 1:15 enterprise, 1:40 mid-market; SMB is pooled).
CSM_RATIO = {"enterprise": 15, "mid_market": 40, "smb": 120}
CSM_NAMES = (
    "ines", "tomas", "priya", "kwame", "sofia", "lukas", "mei", "omar", "greta", "diego",
    "yara", "pavel", "nadia", "ravi", "elin", "jonah", "amara", "felix", "hana", "bruno",
)  # fmt: skip
_NAME_A = (
    "Blue", "North", "Granite", "Silver", "Harbor", "Maple", "Cedar", "Summit", "Copper",
    "Willow", "Atlas", "Beacon", "Falcon", "Lumen", "Quarry", "Tidal", "Orbit", "Prairie",
)  # fmt: skip
_NAME_B = (
    "Logistics", "Dental", "Analytics", "Foods", "Robotics", "Legal", "Clinics", "Freight",
    "Media", "Energy", "Labs", "Outfitters", "Insurance", "Builders", "Travel", "Bank",
)  # fmt: skip


@dataclass
class Account:
    index: int
    account_id: str
    name: str
    shape: str
    segment: str
    seats: int
    arr: float
    csm_id: str
    region: str
    rhythm: str
    contract_start: date
    renewal_date: date
    start_day: int = 0  # first day of activity (an onboarding account starts in the book)
    onboarding: bool = False
    activity: float = 0.3  # a typical user's chance of being active on a working day
    util: float = 0.8  # users on the roster / licensed seats
    base_engaged: float = 0.95  # share of the roster engaged at the start
    drift: float = 0.0  # change of the engaged share over the book (steady accounts)
    sentiment: float = 0.0  # NPS offset
    champion_style: str = "steady"  # steady | irregular | vacationer
    seasonal: tuple[int, int, float] | None = None  # slump start, length, depth
    churn_day: int | None = None
    change_day: int | None = None  # expansion or downgrade
    new_seats: int | None = None
    dip: tuple[int, int, float] | None = None  # start, end (recovered), share kept
    # Engaged share falls from 1 to `floor` between `start` and `end` (slow decline, erosion
    # after a champion left, the cut after bad support, a downgrader's shrinking use).
    decline: tuple[int, int, float] | None = None
    ramp: tuple[int, int, float] | None = None  # expander: engaged share e0 -> 1
    champion_leaves: int | None = None
    champion_change: int | None = None  # a healthy account names a new champion
    burst_day: int | None = None  # the bad support experience
    quiet_from: int | None = None  # tickets pile up from here
    extras: dict[str, int] = field(default_factory=dict)

    @property
    def churns(self) -> bool:
        return self.churn_day is not None

    def engaged(self, d: int) -> float:
        """Share of the roster engaged on day `d` (before weekly rhythm and holidays)."""
        e = self.base_engaged * (1.0 + self.drift * d / 200.0)
        if self.ramp is not None:
            first, last, e0 = self.ramp
            e = e0 + (1.0 - e0) * _progress(d, first, last)
        if self.decline is not None:
            first, last, floor = self.decline
            e *= 1.0 - (1.0 - floor) * _progress(d, first, last)
        if self.dip is not None:
            first, last, kept = self.dip
            # Three-day ramps in and out.
            depth = min(_progress(d, first, first + 3), 1.0 - _progress(d, last - 3, last))
            e *= 1.0 - (1.0 - kept) * depth
        if self.seasonal is not None:
            first, length, depth = self.seasonal
            last = first + length
            level = min(_progress(d, first, first + 7), 1.0 - _progress(d, last - 7, last))
            e *= 1.0 - depth * level
        return min(max(e, 0.0), 1.0)


def _progress(d: int, first: int, last: int) -> float:
    if d <= first:
        return 0.0
    if d >= last:
        return 1.0
    return (d - first) / (last - first)


def shape_counts(accounts: int) -> dict[str, int]:
    counts = {
        shape: max(1, round(accounts * share)) if accounts >= 20 else 0
        for shape, share in SHAPE_SHARES.items()
    }
    counts["steady"] = accounts - sum(counts.values())
    if counts["steady"] < 0:
        raise ValueError(f"--accounts {accounts} is too small for the book's shapes")
    return counts


def plan_accounts(seed: int, accounts: int, cal: Calendar) -> list[Account]:
    """The book's accounts, in a deterministic order, with their shapes laid out."""
    master = random.Random(f"alt-book:{seed}:shapes")
    shapes = [shape for shape, n in shape_counts(accounts).items() for _ in range(n)]
    master.shuffle(shapes)
    out = [_plan_one(seed, i, shape, cal) for i, shape in enumerate(shapes)]
    _assign_csms(out)
    return out


def _plan_one(seed: int, index: int, shape: str, cal: Calendar) -> Account:
    account_id = f"alt{index + 1:04d}"
    rng = random.Random(f"alt-book:{seed}:{account_id}:plan")
    n = cal.days
    if shape == "small_full":
        segment = "smb"
    elif shape in CHURN_SHAPES:
        segment = pick(rng, SEGMENT_WEIGHTS["churn"])
    elif shape == "expander":
        segment = pick(rng, SEGMENT_WEIGHTS["expander"])
    else:
        segment = pick(rng, SEGMENT_WEIGHTS["default"])
    seats = rng.randint(5, 20) if shape == "small_full" else _seats(rng, segment)
    if shape == "expander":  # busy accounts: a large one would dominate the book's volume
        seats = min(seats, rng.randint(120, 220))
    price = {"smb": (240, 480), "mid_market": (400, 800), "enterprise": (600, 1100)}[segment]
    renewal_day = rng.randint(-20, 380)
    acc = Account(
        index=index,
        account_id=account_id,
        name=f"{rng.choice(_NAME_A)} {rng.choice(_NAME_B)} {index + 1}",
        shape=shape,
        segment=segment,
        seats=seats,
        arr=float(round(seats * rng.uniform(*price), -2) or 100),
        csm_id="",
        region=pick(rng, REGION_WEIGHTS),
        rhythm=pick(rng, RHYTHM_WEIGHTS),
        contract_start=cal.start,
        renewal_date=cal.day(renewal_day),
        activity={"smb": 0.33, "mid_market": 0.2, "enterprise": 0.15}[segment]
        * rng.uniform(0.8, 1.2),
        util=rng.uniform(0.62, 0.95),
        base_engaged=rng.uniform(0.9, 1.0),
        sentiment=rng.gauss(0.0, 0.8),
        champion_style=pick(rng, {"steady": 0.55, "irregular": 0.25, "vacationer": 0.2}),
    )
    summer = cal.summer()
    if summer and acc.region != "apac" and rng.random() < 0.37:
        first = summer.start + rng.randint(0, 21)
        acc.seasonal = (first, rng.randint(35, 42), rng.uniform(0.25, 0.35))

    def churn_at(lead: int) -> int:
        lo = min(n - 10, max(63, lead + 14))
        return rng.randint(lo, n - 3)

    if shape == "steady":
        acc.drift = rng.uniform(-0.12, 0.1)
        if rng.random() < 0.08:
            acc.onboarding = True
            acc.start_day = rng.randint(0, min(45, n // 3))
            acc.renewal_date = cal.day(acc.start_day + 365)
            acc.contract_start = cal.day(acc.start_day)
        elif rng.random() < 0.05:
            acc.champion_change = rng.randint(40, max(41, n - 20))
    elif shape == "small_full":
        acc.util, acc.base_engaged = 1.0, 1.0
        acc.activity = rng.uniform(0.62, 0.8)
    elif shape == "expander":
        acc.util, acc.activity = 1.0, rng.uniform(0.6, 0.75)
        acc.sentiment += 0.6
        acc.change_day = rng.randint(max(90, int(n * 0.45)), n - 5)
        hit = acc.change_day - rng.randint(30, 90)
        acc.ramp = (hit - rng.randint(35, 70), hit, rng.uniform(0.6, 0.75))
        acc.new_seats = round(seats * rng.uniform(1.25, 1.6)) + 1
    elif shape == "downgrader":
        acc.change_day = rng.randint(min(75, n - 10), n - 3)
        acc.renewal_date = cal.day(acc.change_day)
        acc.new_seats = max(2, round(seats * rng.uniform(0.45, 0.7)))
        if rng.random() < 0.67:
            acc.decline = (acc.change_day - rng.randint(60, 100), acc.change_day, 0.55)
    elif shape == "dip_recover":
        length = rng.randint(14, 56)
        first = rng.randint(35, max(36, n - length - 14))
        acc.dip = (first, first + length, rng.uniform(0.25, 0.5))
    elif shape == "churn_slow":
        acc.churn_day = churn_at(60)
        acc.decline = (acc.churn_day - rng.randint(90, 180), acc.churn_day, 0.25)
        acc.sentiment -= 1.5
    elif shape == "churn_champion":
        acc.churn_day = churn_at(60)
        acc.champion_leaves = max(10, acc.churn_day - rng.randint(60, 120))
        erosion = acc.champion_leaves + rng.randint(10, 30)
        acc.decline = (erosion, max(erosion + 14, acc.churn_day), rng.uniform(0.2, 0.45))
    elif shape == "churn_support":
        acc.churn_day = churn_at(60)
        acc.burst_day = max(10, acc.churn_day - rng.randint(60, 90))
        cut = acc.burst_day + rng.randint(10, 25)
        acc.decline = (cut, cut + rng.randint(7, 14), rng.uniform(0.2, 0.4))
    elif shape == "churn_quiet":
        acc.churn_day = churn_at(100)
        acc.quiet_from = max(0, acc.churn_day - rng.randint(100, 140))
    elif shape == "churn_sudden":
        acc.churn_day = churn_at(30)
    if acc.churn_day is not None and (shape != "churn_sudden" or rng.random() < 0.5):
        acc.renewal_date = cal.day(acc.churn_day)
    if not acc.onboarding:
        # A contract of one to three years, signed at least a month before the book.
        years = rng.randint(1, 3)
        while acc.renewal_date - timedelta(days=365 * years) > cal.start - timedelta(days=30):
            years += 1
        acc.contract_start = acc.renewal_date - timedelta(days=365 * years)
    return acc


def _seats(rng: random.Random, segment: str) -> int:
    if segment == "smb":
        band = rng.random()
        if band < 0.5:
            return rng.randint(3, 10)
        return rng.randint(11, 25) if band < 0.85 else rng.randint(26, 45)
    if segment == "mid_market":
        return round(math.exp(rng.uniform(math.log(26), math.log(130))))
    if rng.random() < 0.5:
        return round(math.exp(rng.uniform(math.log(150), math.log(300))))
    return round(math.exp(rng.uniform(math.log(300), math.log(1500))))


def _assign_csms(accounts: list[Account]) -> None:
    for segment, ratio in CSM_RATIO.items():
        members = [a for a in accounts if a.segment == segment]
        pool = max(1, math.ceil(len(members) / ratio))
        prefix = {"enterprise": "ent", "mid_market": "mm", "smb": "smb"}[segment]
        for i, acc in enumerate(members):
            k = i % pool
            acc.csm_id = f"csm-{prefix}-{CSM_NAMES[k % len(CSM_NAMES)]}{k // len(CSM_NAMES) or ''}"


def outcomes(acc: Account, cal: Calendar) -> list[dict[str, str]]:
    """What really happened to the account within the book (CONTRACT.md, Outcomes file),
    plus `dipped` rows (start, until recovered) for real temporary dips."""
    rows: list[dict[str, str]] = []
    n = cal.days

    def row(outcome: str, day: int, **extra: str) -> None:
        rows.append(
            {"account_id": acc.account_id, "outcome": outcome, "date": cal.day(day).isoformat()}
            | extra
        )

    if acc.dip is not None:
        row("dipped", acc.dip[0], until=cal.day(acc.dip[1]).isoformat())
    if acc.churn_day is not None:
        row("churned", acc.churn_day)
        return rows
    if acc.shape == "expander" and acc.change_day is not None:
        row("expanded", acc.change_day)
    renewal = cal.index(acc.renewal_date)
    if acc.shape == "downgrader" and acc.change_day is not None:
        row("downgraded", acc.change_day)
    elif 0 < renewal < n:
        row("renewed", renewal)
    rows.sort(key=lambda r: r["date"])
    return rows
