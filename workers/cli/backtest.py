"""`cs-signals backtest FILE.jsonl`: run a rules file over recorded events offline, with the
core and event order of a live worker (workers/replay/backtest.py), and count the tasks."""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workers.cli.settings import settings_or_exit

if TYPE_CHECKING:
    from config.rules import Rules
    from events.jsonl import LineError
    from workers.replay.backtest import BacktestResult
    from workers.replay.event_file import EventFile


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "backtest",
        help="run the rules over a JSON-lines file offline and count the tasks they raise",
        description=(
            "Apply a rules file to recorded events (the `produce` file format) with the same "
            "core and event order as a live worker, without Kafka or Redis, and print the "
            "tasks per playbook. Use it to tune thresholds before deploying a rules file."
        ),
    )
    parser.add_argument("file", help="the JSON-lines file of events")
    parser.add_argument(
        "--rules", default=None, help="rules file (default: CS_RULES_FILE or bundled)"
    )
    parser.add_argument("--tasks", action="store_true", help="also print every task")
    add_partitions_argument(parser)
    parser.set_defaults(func=run)


def add_partitions_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        metavar="N",
        help=(
            "partitions of the input topics, as the workers run (default: "
            "CS_TOPIC_PARTITIONS): accounts share a book baseline with their partition's"
        ),
    )


def partitions_of(args: argparse.Namespace) -> int:
    if args.partitions is not None:
        if args.partitions < 1:
            raise SystemExit("cs-signals: --partitions must be at least 1")
        return int(args.partitions)
    return settings_or_exit().topic_partitions


def run(args: argparse.Namespace) -> int:
    rules_file = args.rules or settings_or_exit().rules_file
    return backtest_file(
        args.file, rules_file, show_tasks=args.tasks, partitions=partitions_of(args)
    )


@dataclass
class LoadedEvents:
    """A rules file and a JSON-lines events file, read and validated (what backtest and
    evaluate run on). The events stay in the file: `file.ordered()` decodes them one at a
    time in the worker's order (workers/replay/event_file.py)."""

    rules: Rules
    file: EventFile

    @property
    def line_errors(self) -> list[LineError]:
        return self.file.errors

    @property
    def start(self) -> datetime | None:
        return self.file.start

    @property
    def end(self) -> datetime | None:
        return self.file.end


def load_rules_or_say(path: str | None, command: str, what: str = "rules") -> Rules | None:
    """The rules file, or None after printing each of its errors on stderr."""
    from config.rules import RulesError, load_rules

    try:
        return load_rules(path)
    except RulesError as exc:
        for error in exc.errors:
            print(f"cs-signals {command}: bad {what}: {error}", file=sys.stderr)
        return None


def load_events(
    path: str,
    rules_file: str | None,
    *,
    command: str = "backtest",
    progress: Callable[[str], None] | None = None,
) -> LoadedEvents | None:
    """Load the rules and index the events file, printing what is wrong on stderr (bad lines
    with their line numbers; they are skipped). None when the rules or the file cannot be
    read."""
    from workers.replay.event_file import EventFile

    rules = load_rules_or_say(rules_file, command)
    if rules is None:
        return None
    if progress:
        progress(f"reading {path}…")
    try:
        indexed = EventFile.index(path, progress)
    except OSError as exc:
        print(f"cs-signals {command}: {exc}", file=sys.stderr)
        return None
    for error in indexed.errors:
        print(f"{path}:{error.line_no}: {error.message}", file=sys.stderr)
    return LoadedEvents(rules, indexed)


def run_rules(
    loaded: LoadedEvents,
    partitions: int,
    *,
    command: str,
    rules: Rules | None = None,
    keep_health: bool = True,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult | None:
    """The backtest of `rules` (default: the loaded ones) over the loaded file, in the
    worker's order; None (said on stderr) when the file changed under it."""
    from workers.replay.backtest import backtest
    from workers.replay.event_file import EventFileChanged

    try:
        return backtest(
            loaded.file.ordered(progress),
            rules or loaded.rules,
            until=loaded.end,
            partitions=partitions,
            presorted=True,
            keep_health=keep_health,
        )
    except EventFileChanged as exc:
        print(f"cs-signals {command}: {exc}", file=sys.stderr)
        return None


def backtest_file(
    path: str, rules_file: str | None, *, show_tasks: bool = False, partitions: int = 8
) -> int:
    """The tasks a rules file would raise on these events, counted per playbook."""
    from workers.render import render_task

    loaded = load_events(path, rules_file, command="backtest")
    if loaded is None:
        return 2
    result = run_rules(loaded, partitions, command="backtest", keep_health=False)
    if result is None:
        return 2
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for task in result.tasks:
        counts[task.playbook][task.action] += 1
        if show_tasks:
            print(render_task(task.model_dump(mode="json")))
    print(
        f"{len(loaded.file):,} events, {len(result.states)} accounts, "
        f"{result.duplicates} duplicates"
    )
    print(f"{'playbook':<24}{'opened':>8}{'updated':>9}{'resolved':>10}")
    for playbook in sorted(counts):
        c = counts[playbook]
        print(f"{playbook:<24}{c['opened']:>8}{c['updated']:>9}{c['resolved']:>10}")
    return 1 if loaded.line_errors else 0
