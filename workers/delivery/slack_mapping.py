"""Who gets a task in Slack: owner_id -> channel or user, their time zone and quiet hours.

Mapping file (YAML or JSON):

    default_channel: C0123ALERTS        # unmapped owners (--default-channel overrides)
    default_timezone: UTC               # for owners without a timezone
    owners:
      csm-ana:
        channel: C0456ANA               # a channel id (or #name) ...
        mention: U0789ANA               # optional: @-mention this user in the message
        timezone: Europe/Berlin
        quiet_hours: "20:00-08:00"      # local time; new messages wait until it ends
      csm-bo:
        user: U0ABCBO                   # ... or a user id: a direct message from the bot
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

_HOURS = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)$")
_OWNER_KEYS = {"channel", "user", "mention", "timezone", "quiet_hours"}


class MappingError(ValueError):
    pass


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        match = _HOURS.match(text.strip())
        if not match:
            raise ValueError(f"quiet_hours {text!r}: expected HH:MM-HH:MM, e.g. 20:00-08:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if (h1, m1) == (h2, m2):
            raise ValueError(f"quiet_hours {text!r}: start and end are the same")
        return cls(time(h1, m1), time(h2, m2))

    def ends_at(self, now: datetime, zone: ZoneInfo) -> datetime | None:
        """When the quiet hours `now` falls in end (in now's zone), or None when not quiet."""
        local = now.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            quiet = self.start <= clock < self.end
            end_day = local.date()
        else:  # across midnight: 20:00-08:00
            quiet = clock >= self.start or clock < self.end
            end_day = local.date() + timedelta(days=1) if clock >= self.start else local.date()
        if not quiet:
            return None
        return datetime.combine(end_day, self.end, tzinfo=zone).astimezone(now.tzinfo)


@dataclass(frozen=True)
class Destination:
    channel: str
    owner_id: str | None
    mention: str | None = None
    zone: ZoneInfo | None = None
    quiet: QuietHours | None = None

    def quiet_until(self, now: datetime) -> datetime | None:
        if self.quiet is None or self.zone is None:
            return None
        return self.quiet.ends_at(now, self.zone)


@dataclass(frozen=True)
class SlackMapping:
    owners: dict[str, Destination]
    default: Destination | None

    def destination(self, owner_id: str | None) -> Destination | None:
        if owner_id and owner_id in self.owners:
            return self.owners[owner_id]
        if self.default is None:
            return None
        return Destination(
            self.default.channel, owner_id, None, self.default.zone, self.default.quiet
        )


def load_mapping(path: str | Path, default_channel: str | None = None) -> SlackMapping:
    """Read and check a mapping file; MappingError names the file and the bad entry."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{file}: cannot read ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise MappingError(
            f"{file}: not valid {'JSON' if file.suffix == '.json' else 'YAML'}: {exc}"
        ) from exc
    try:
        return parse_mapping(data or {}, default_channel)
    except ValueError as exc:
        raise MappingError(f"{file}: {exc}") from exc


def parse_mapping(data: Any, default_channel: str | None = None) -> SlackMapping:
    if not isinstance(data, dict):
        raise ValueError("the top level must be a mapping with 'owners' (and 'default_channel')")
    unknown = set(data) - {"owners", "default_channel", "default_timezone", "default_quiet_hours"}
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)}")
    default_zone = _zone(data.get("default_timezone") or "UTC", "default_timezone")
    default_quiet = _quiet(data.get("default_quiet_hours"), "default_quiet_hours")
    owners_data = data.get("owners") or {}
    if not isinstance(owners_data, dict):
        raise ValueError("'owners' must map owner ids to {channel|user, ...}")
    owners: dict[str, Destination] = {}
    for owner_id, entry in owners_data.items():
        where = f"owners.{owner_id}"
        if isinstance(entry, str):
            entry = {"channel": entry}
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be a channel id or a mapping")
        extra = set(entry) - _OWNER_KEYS
        if extra:
            raise ValueError(
                f"{where}: unknown key(s) {sorted(extra)}; valid: {sorted(_OWNER_KEYS)}"
            )
        channel, user = entry.get("channel"), entry.get("user")
        if bool(channel) == bool(user):
            raise ValueError(f"{where}: give exactly one of 'channel' or 'user'")
        zone = _zone(entry["timezone"], f"{where}.timezone") if entry.get("timezone") else None
        quiet = _quiet(entry.get("quiet_hours"), f"{where}.quiet_hours") or default_quiet
        owners[str(owner_id)] = Destination(
            channel=str(channel or user),
            owner_id=str(owner_id),
            mention=str(entry["mention"]) if entry.get("mention") else None,
            zone=zone or default_zone,
            quiet=quiet,
        )
    channel = default_channel or data.get("default_channel")
    default = (
        Destination(str(channel), None, None, default_zone, default_quiet) if channel else None
    )
    return SlackMapping(owners, default)


def _zone(name: Any, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{where}: unknown time zone {name!r} (e.g. Europe/Berlin)") from None


def _quiet(text: Any, where: str) -> QuietHours | None:
    if not text:
        return None
    try:
        return QuietHours.parse(str(text))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
