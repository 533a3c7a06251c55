"""Time-driven triggers on the real broker: tasks for accounts that receive nothing, driven by
the event-time clock that other accounts' events move forward."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.integration.harness import (
    Namespace,
    WorkerProcess,
    account_event,
    daily_usage,
    parse_ts,
    produce_in_order,
    tasks_of,
    ts,
    usage_event,
    wait_for,
)
from workers.stream.partitioning import partition_for

pytestmark = pytest.mark.integration

PARTITIONS = 4


def _accounts_on_every_partition(prefix: str) -> dict[int, str]:
    """One account id per partition, so clock drivers cover every partition."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < PARTITIONS:
        name = f"{prefix}-{n}"
        found.setdefault(partition_for(name.encode(), PARTITIONS), name)
        n += 1
    return found


def _quiet_account(prefix: str) -> str:
    return f"{prefix}-quiet"


def test_time_driven_tasks_fire_for_accounts_that_receive_nothing(
    ns: Namespace, workers: list[WorkerProcess]
) -> None:
    ns.partitions = PARTITIONS
    worker = WorkerProcess(ns, "clock-1").start()
    workers.append(worker)
    drivers = _accounts_on_every_partition("driver")
    silent = "champ-quiet"  # champion goes silent, the rest of the account keeps... nothing
    renewal = "renew-quiet"
    stopped = "stop-quiet"
    adoption = "adopt-quiet"
    renewal_date = (date(2026, 9, 1) + timedelta(days=95)).isoformat()

    setup = [
        account_event(
            silent, ts(0, 8), csm_id="csm-ana", champion_user_id="user-0", licensed_seats=10
        ),
        account_event(renewal, ts(0, 8), csm_id="csm-bo", renewal_date=renewal_date),
        account_event(stopped, ts(0, 8), csm_id="csm-cy", licensed_seats=15),
        # contract started 59 days before day 0; only one core feature ever used
        account_event(
            adoption, ts(0, 8), csm_id="csm-di", licensed_seats=5, contract_start="2026-07-04"
        ),
    ] + [account_event(d, ts(0, 8), licensed_seats=5) for d in drivers.values()]
    # The quiet accounts are active at first and then receive nothing at all (12 users for
    # two weeks: a drop the usage guards confirm once the last active day is a week behind).
    week_one = [usage_event(silent, "user-0", ts(0, 9))] + daily_usage(stopped, 0, 14, 12)
    # Drivers keep every partition's clock moving for 24 days.
    drivers_usage = [
        usage_event(d, "driver-user", ts(day, 12)) for day in range(0, 25) for d in drivers.values()
    ]
    produce_in_order(
        ns,
        [
            ("account-events", setup),
            ("usage-events", week_one),
            ("usage-events", drivers_usage),
        ],
    )

    def ready(messages: list[dict]) -> bool:
        return bool(
            tasks_of(messages, silent, "champion_silent")
            and tasks_of(messages, renewal, "renewal_approaching")
            and tasks_of(messages, stopped, "usage_drop")
            and tasks_of(messages, adoption, "low_adoption")
        )

    tasks = wait_for(ns, "playbook-tasks", ready, workers=[worker])

    champion = tasks_of(tasks, silent, "champion_silent")[0]
    assert champion["action"] == "opened" and champion["owner_id"] == "csm-ana"
    # Silent for more than 18 days after day 0, 09:00: raised on day 19 at the earliest.
    assert parse_ts(ts(19, 9)) <= parse_ts(champion["created_at"]) <= parse_ts(ts(20, 12))

    milestone = tasks_of(tasks, renewal, "renewal_approaching")[0]
    assert milestone["priority"] == "medium"
    assert milestone["evidence"]
    # 95 days ahead at day 0: the 90-day milestone comes on day 5.
    assert parse_ts(ts(5, 0)) <= parse_ts(milestone["created_at"]) <= parse_ts(ts(6, 0))

    drop = tasks_of(tasks, stopped, "usage_drop")[0]
    assert drop["action"] == "opened"
    assert "100%" in drop["reason"]
    low = tasks_of(tasks, adoption, "low_adoption")[0]
    assert low["action"] == "opened" and low["owner_id"] == "csm-di"
    assert low["evidence"]["adoption_ratio"] < 0.3
    # 60 days after contract start and 14 observed days: day 14 at the earliest
    assert parse_ts(low["created_at"]) >= parse_ts(ts(14, 0))

    # exactly one task per account and playbook, however many clock ticks went by
    for account in (silent, renewal, stopped, adoption):
        opened = [t for t in tasks_of(tasks, account) if t["action"] == "opened"]
        assert len(opened) == len({t["playbook"] for t in opened})


def test_a_live_clock_raises_time_driven_tasks_with_no_traffic_at_all(
    ns: Namespace, workers: list[WorkerProcess]
) -> None:
    from datetime import UTC, datetime

    ns.extra_env.update({"CS_ALLOWED_LATENESS": "1s"})
    worker = WorkerProcess(ns, "wall-1").start()
    workers.append(worker)
    days_ago_20 = (datetime.now(UTC) - timedelta(days=20)).isoformat()
    account = "wall-quiet"
    produce_in_order(
        ns,
        [
            (
                "account-events",
                [account_event(account, days_ago_20, champion_user_id="u-1", csm_id="csm-ana")],
            ),
            ("usage-events", [usage_event(account, "u-1", days_ago_20)]),
        ],
    )
    # Nothing else arrives: only the wall clock can move this account's time.
    tasks = wait_for(
        ns, "playbook-tasks", lambda m: tasks_of(m, account, "champion_silent"), workers=[worker]
    )
    assert tasks_of(tasks, account, "champion_silent")[0]["owner_id"] == "csm-ana"
