"""Redis keys the board reads (the worker's live view) and keeps itself (`<p>board:…`).

The worker's view (README, "Redis live view"): `health:<account>`, `health:ranking`,
`tasks:open`, `feed:<csm_id>`. The board's own, all bounded, written by workers/board/ingest.py
from the topics (consumer group `<CS_APP_ID>-board`):

- `board:health:<account>` sorted set: health points (JSON: t, s score, b band, p previous,
  c raw value per component) by event time; the newest `--history` kept
- `board:tasks:<account>` sorted set: the account's task actions (JSON) by event time; newest 200
- `board:facts:<account>` hash: latest account facts (name, segment, arr, csm_id,
  renewal_date, …), each with `at:<field>` (the event time that set it)
- `board:tickets:<account>` / `board:nps:<account>` sorted sets: the newest 50 ticket events /
  20 NPS responses
- `board:feedback:<task_id>` sorted set: task-feedback on the task (JSON) by event time;
  expires after 90 days
- `board:week:<monday>` hash: task_id -> the task opened that week (playbook, priority, owner,
  account); `board:late:<monday>`: task_id -> a task resolved that week after its due time;
  `board:weeks` sorted set: those weeks (the newest 26 kept)
- `board:live` stream: score changes for live pages (account_id, score, band, previous_score,
  csm_id)
- `board:clock` sorted set: member `event` = the newest event time seen (`--clock event`)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

TASK_HISTORY = 200
TICKETS_KEPT = 50
NPS_KEPT = 20
FEEDBACK_KEPT = 20
FEEDBACK_TTL_SECONDS = 90 * 86400
WEEKS_KEPT = 26
LIVE_MAXLEN = 10_000
UNASSIGNED = "_unassigned"


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    # -- the worker's live view --
    def health(self, account_id: str) -> str:
        return f"{self.prefix}health:{account_id}"

    @property
    def ranking(self) -> str:
        return f"{self.prefix}health:ranking"

    @property
    def open_tasks(self) -> str:
        return f"{self.prefix}tasks:open"

    def feed(self, csm_id: str) -> str:
        return f"{self.prefix}feed:{csm_id}"

    @property
    def feed_pattern(self) -> str:
        return f"{self.prefix}feed:*"

    # -- the board's own --
    def _board(self, *parts: str) -> str:
        return self.prefix + "board:" + ":".join(parts)

    def history(self, account_id: str) -> str:
        return self._board("health", account_id)

    def task_history(self, account_id: str) -> str:
        return self._board("tasks", account_id)

    def facts(self, account_id: str) -> str:
        return self._board("facts", account_id)

    def tickets(self, account_id: str) -> str:
        return self._board("tickets", account_id)

    def nps(self, account_id: str) -> str:
        return self._board("nps", account_id)

    def feedback(self, task_id: str) -> str:
        return self._board("feedback", task_id)

    def week(self, monday: str) -> str:
        return self._board("week", monday)

    def late(self, monday: str) -> str:
        return self._board("late", monday)

    @property
    def weeks(self) -> str:
        return self._board("weeks")

    @property
    def live(self) -> str:
        return self._board("live")

    @property
    def clock(self) -> str:
        return self._board("clock")


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp (with a zone) as an aware datetime, else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def monday_of(moment: datetime) -> str:
    day = moment.astimezone(UTC).date()
    return (day - timedelta(days=day.weekday())).isoformat()
