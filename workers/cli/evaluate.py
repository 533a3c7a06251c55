"""`cs-signals evaluate EVENTS.jsonl --outcomes FILE`: backtest a rules file over recorded
events (the core and event order of `backtest`) and score the tasks against what happened to
the accounts (workers/replay/evaluation; DOMAIN.md, "Alert quality")."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from workers.cli.backtest import add_partitions_argument, partitions_of
from workers.cli.settings import settings_or_exit

_EPILOG_HEAD = """\
Outcomes file: JSON lines or CSV (a .csv name, or a first character other than `{`) with
account_id, outcome (churned | renewed | expanded | downgraded) and date (YYYY-MM-DD).
Optional extension: outcome "dipped" with date (the dip's start) and until (the day it had
recovered) marks a real dip the account came back from.

Targets: noise ≤ 0.3, storm ≤ 1.5, precision ≥ 0.6, recall@30 ≥ 0.85, chance ≤ 0.25,
lead ≥ 45 d, expansion recall ≥ 0.9, false expansion ≤ 0.1. A figure that misses its target
is reported, not an error: exit 0 when the files could be read, 2 on bad input.

"""


def register(sub: Any) -> None:
    from workers.replay.evaluation.scoring import DEFINITIONS

    parser = sub.add_parser(
        "evaluate",
        help="score the tasks a rules file raises on recorded events against real outcomes",
        description=(
            "Run a rules file over recorded events offline (as `backtest` does) and score the\n"
            "tasks against what happened to the accounts: churn recall and its lift over\n"
            "chance, lead time, noise on healthy accounts, alert storms, precision, expansion\n"
            "recall, CSM load, tasks after churn and dismissals. Tune rules on your own\n"
            "history before turning them on."
        ),
        epilog=_EPILOG_HEAD + DEFINITIONS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="the JSON-lines file of events (the `produce` format)")
    parser.add_argument(
        "--outcomes", required=True, help="what happened to the accounts (JSON lines or CSV)"
    )
    parser.add_argument(
        "--rules", default=None, help="rules file (default: CS_RULES_FILE or bundled)"
    )
    parser.add_argument(
        "--baseline",
        metavar="RULES",
        default=None,
        help="also score this rules file on the same events and show both side by side, "
        "overall and per playbook (e.g. the rules running today against a candidate)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object, for tools")
    parser.add_argument(
        "--chart", metavar="FILE.html", default=None, help="also write risk tasks per week"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_partitions_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rules_file = args.rules or settings_or_exit().rules_file
    return evaluate_file(
        args.file,
        args.outcomes,
        rules_file,
        as_json=args.json,
        chart=args.chart,
        quiet=args.quiet,
        partitions=partitions_of(args),
        baseline=args.baseline,
    )


def evaluate_file(
    path: str,
    outcomes_path: str,
    rules_file: str | None,
    *,
    as_json: bool = False,
    chart: str | None = None,
    quiet: bool = False,
    partitions: int = 8,
    baseline: str | None = None,
) -> int:
    from config.rules_model import playbook_kind
    from workers.cli.backtest import load_events, load_rules_or_say, run_rules
    from workers.replay.evaluation import (
        Book,
        read_outcomes,
        render_chart,
        render_comparison,
        render_json,
        render_table,
        score,
        scored_tasks,
    )

    began = time.monotonic()

    def progress(message: str) -> None:
        if not quiet:
            print(f"[{time.monotonic() - began:6.1f}s] {message}", file=sys.stderr, flush=True)

    # The outcomes first: a bad outcomes file should not cost a long backtest.
    try:
        outcomes, errors = read_outcomes(outcomes_path)
    except OSError as exc:
        print(f"cs-signals evaluate: {exc}", file=sys.stderr)
        return 2
    for error in errors:
        print(f"{outcomes_path}:{error.line_no}: {error.message}", file=sys.stderr)
    if not outcomes:
        print(
            f"cs-signals evaluate: {outcomes_path}: no valid outcome rows "
            "(account_id, outcome, date)",
            file=sys.stderr,
        )
        return 2

    baseline_rules = None
    if baseline is not None:
        baseline_rules = load_rules_or_say(baseline, "evaluate", "baseline rules")
        if baseline_rules is None:
            return 2
    loaded = load_events(path, rules_file, command="evaluate", progress=progress)
    if loaded is None:
        return 2
    start, end = loaded.start, loaded.end
    if start is None or end is None:
        print(f"cs-signals evaluate: {path}: no valid events", file=sys.stderr)
        return 2
    accounts = frozenset(loaded.file.accounts)
    missing = sorted({o.account_id for o in outcomes} - accounts)
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        print(
            f"cs-signals evaluate: warning: {len(missing)} account(s) in {outcomes_path} have "
            f"no events and are left out: {shown}",
            file=sys.stderr,
        )

    def run_and_score(rules: Any, label: str) -> dict[str, Any] | None:
        progress(f"running {label} over {len(loaded.file):,} events…")
        result = run_rules(
            loaded, partitions, command="evaluate", rules=rules, keep_health=False,
            progress=progress,
        )  # fmt: skip
        if result is None:
            return None
        progress(f"scoring {len(result.tasks):,} task messages…")
        kinds = {pid: playbook_kind(pid, rule) for pid, rule in rules.playbooks.items()}
        scores = score(scored_tasks(result.tasks), outcomes, Book(start, end, accounts), kinds)
        scores["input"] = {
            "events": len(loaded.file),
            "event_line_errors": len(loaded.line_errors),
            "outcome_rows": len(outcomes),
            "outcome_row_errors": len(errors),
            "outcome_accounts_without_events": len(missing),
            "duplicates": result.duplicates,
        }
        return scores

    before = None
    if baseline_rules is not None:
        before = run_and_score(baseline_rules, f"the baseline rules ({baseline})")
        if before is None:
            return 2
    scores = run_and_score(loaded.rules, "the rules" if before else "rules")
    if scores is None:
        return 2
    rules_name = rules_file or "the bundled rules"
    if before is not None:
        scores["baseline"] = {
            "rules": baseline,
            "metrics": before["metrics"],
            "playbooks": before["playbooks"],
        }
    if chart:
        try:
            with open(chart, "w", encoding="utf-8") as handle:
                handle.write(render_chart(scores))
        except OSError as exc:
            print(f"cs-signals evaluate: cannot write the chart: {exc}", file=sys.stderr)
            return 2
    if as_json:
        print(render_json(scores))
    else:
        print(render_table(scores))
        if before is not None:
            print()
            print(render_comparison(before, scores, str(baseline), rules_name))
    progress("done" + (f"; chart written to {chart}" if chart else ""))
    return 0
