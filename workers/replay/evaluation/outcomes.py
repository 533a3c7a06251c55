"""The outcomes file of `cs-signals evaluate`: what really happened to the accounts.

JSON lines or CSV (CONTRACT.md, "Outcomes file"): `account_id`, `outcome` (`churned` |
`renewed` | `expanded` | `downgraded`) and `date` (YYYY-MM-DD). Optional extension: `outcome:
dipped` with `date` (the dip's start) and `until` (the day it had recovered) marks a real dip the
account came back from. The format is a `.csv` extension, or else the first non-blank
character: `{` is JSON lines, anything else CSV (with a header row). Extra fields or columns are
accepted and ignored. Every bad row is reported with its line and what is wrong; the valid rows
are kept.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

__all__ = ["OUTCOMES", "Outcome", "OutcomeError", "parse_outcomes", "read_outcomes"]

OUTCOMES = ("churned", "renewed", "expanded", "downgraded", "dipped")
_OUTCOME_WORDS = "churned, renewed, expanded, downgraded (or the optional dipped)"


@dataclass(frozen=True, slots=True)
class Outcome:
    account_id: str
    outcome: str
    date: date
    until: date | None = None  # for `dipped`: the day the account had recovered
    line_no: int = 0


@dataclass(frozen=True, slots=True)
class OutcomeError:
    line_no: int
    message: str


def read_outcomes(path: str) -> tuple[list[Outcome], list[OutcomeError]]:
    """Read and validate an outcomes file (OSError when it cannot be read)."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        text = handle.read()
    return parse_outcomes(text, csv_format=path.lower().endswith(".csv") or None)


def parse_outcomes(
    text: str, *, csv_format: bool | None = None
) -> tuple[list[Outcome], list[OutcomeError]]:
    """Parse outcomes text; `csv_format=None` decides by the first non-blank character."""
    text = text.removeprefix("\ufeff")
    if csv_format is None:
        first = text.lstrip()[:1]
        csv_format = first not in ("{", "")
    if csv_format:
        return _parse_csv(text)
    return _parse_jsonl(text.splitlines())


def _parse_jsonl(lines: Iterable[str]) -> tuple[list[Outcome], list[OutcomeError]]:
    rows: list[Outcome] = []
    errors: list[OutcomeError] = []
    for line_no, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            obj = json.loads(stripped)
        except (json.JSONDecodeError, ValueError, RecursionError) as exc:
            errors.append(OutcomeError(line_no, f"not valid JSON: {exc}"))
            continue
        if not isinstance(obj, dict):
            errors.append(OutcomeError(line_no, "must be a JSON object"))
            continue
        _add(obj, line_no, rows, errors)
    return rows, errors


def _parse_csv(text: str) -> tuple[list[Outcome], list[OutcomeError]]:
    rows: list[Outcome] = []
    errors: list[OutcomeError] = []
    lines = text.splitlines(keepends=True)
    # Skip leading blank lines; the header is the first non-blank line.
    skip = 0
    while skip < len(lines) and not lines[skip].strip():
        skip += 1
    reader = csv.reader(io.StringIO("".join(lines[skip:])))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return rows, errors
    missing = [name for name in ("account_id", "outcome", "date") if name not in header]
    if missing:
        errors.append(
            OutcomeError(
                skip + 1,
                f"CSV header must name the columns account_id, outcome, date; "
                f"missing {', '.join(missing)} (got {', '.join(header) or 'nothing'})",
            )
        )
        return rows, errors
    for values in reader:
        line_no = skip + reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(header):
            errors.append(
                OutcomeError(line_no, f"{len(values)} values but the header has {len(header)}")
            )
            continue
        obj = {name: value.strip() for name, value in zip(header, values, strict=False)}
        obj = {name: value for name, value in obj.items() if value != ""}
        _add(obj, line_no, rows, errors)
    return rows, errors


def _add(
    obj: dict[str, object], line_no: int, rows: list[Outcome], errors: list[OutcomeError]
) -> None:
    row = _row(obj, line_no)
    if isinstance(row, Outcome):
        rows.append(row)
    else:
        errors.append(OutcomeError(line_no, row))


def _row(obj: dict[str, object], line_no: int) -> Outcome | str:
    account_id = obj.get("account_id")
    if not isinstance(account_id, str) or not account_id.strip():
        return "field 'account_id': required, a non-empty string"
    outcome = obj.get("outcome")
    if outcome not in OUTCOMES:
        got = "missing" if outcome is None else f"got {json.dumps(outcome)[:40]}"
        return f"field 'outcome': must be one of {_OUTCOME_WORDS} ({got})"
    day = _date(obj.get("date"))
    if isinstance(day, str):
        return f"field 'date': {day}"
    until: date | None = None
    if outcome == "dipped":
        parsed = _date(obj.get("until"))
        if isinstance(parsed, str):
            return f"field 'until': {parsed} (a dipped row needs the day it had recovered)"
        if parsed < day:
            return f"field 'until': {parsed} is before the dip's start {day}"
        until = parsed
    elif obj.get("until") not in (None, ""):
        return "field 'until': only a dipped row has one"
    return Outcome(account_id.strip(), str(outcome), day, until, line_no)


def _date(value: object) -> date | str:
    if value is None or value == "":
        return "required, a date YYYY-MM-DD"
    if not isinstance(value, str) or len(value) != 10:
        return f"must be a date YYYY-MM-DD (got {json.dumps(value)[:40]})"
    try:
        return date.fromisoformat(value)
    except ValueError:
        return f"must be a date YYYY-MM-DD (got {json.dumps(value)})"
