"""`cs-signals evaluate`: the outcomes file, every alert-quality figure computed by hand on a
small hand-built book, and the command end to end on a small sample."""

from __future__ import annotations

import json
import xml.dom.minidom
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from workers.cli.parser import main
from workers.replay.evaluation import (
    Book,
    Outcome,
    ScoredTask,
    parse_outcomes,
    render_chart,
    render_json,
    render_table,
    score,
    scored_tasks,
)
from workers.replay.evaluation.scoring import CHANCE_STORM_EXACT_UP_TO, chance_storm, is_risk

# The book: 2026-01-01 (Thu) to 2026-05-01 (Fri). Warm-up: Jan 1-30; scored: Jan 31 - May 1 =
# 91 days = exactly one quarter; full Monday-Sunday weeks after the warm-up: Feb 2 ... Apr 20
# (12 weeks).
BOOK = Book(
    start=datetime(2026, 1, 1, tzinfo=UTC),
    end=datetime(2026, 5, 1, 18, 0, tzinfo=UTC),
    accounts=frozenset(["h1", "h2", "h3", "h4", "h5", "c1", "c2", "c3", "c4", "d1", "g1"]),
)

OUTCOMES = [
    Outcome("h1", "renewed", date(2026, 4, 1)),
    Outcome("h2", "expanded", date(2026, 4, 10)),
    # h3: no row (counts as healthy)
    Outcome("h4", "renewed", date(2026, 4, 1)),
    Outcome("h5", "expanded", date(2026, 1, 20)),  # in the warm-up: not counted
    Outcome("c1", "churned", date(2026, 4, 15)),
    Outcome("c2", "churned", date(2026, 3, 20)),
    Outcome("c3", "churned", date(2026, 2, 10)),  # window ends in the warm-up: not counted
    Outcome("c4", "churned", date(2026, 4, 28)),
    Outcome("d1", "dipped", date(2026, 3, 1), until=date(2026, 3, 31)),
    Outcome("g1", "downgraded", date(2026, 4, 1)),
    Outcome("ghost", "churned", date(2026, 3, 1)),  # no events: left out
]


def _t(
    account: str,
    playbook: str,
    day: str,
    owner: str | None = "csm-a",
    *,
    action: str = "opened",
    priority: str = "high",
    dismissed: str | None = None,
) -> ScoredTask:
    moment = datetime.fromisoformat(day + "T10:00:00+00:00")
    task_id = f"{account}-{playbook}"
    return ScoredTask(account, playbook, action, priority, moment, owner, task_id, dismissed)


TASKS = [
    _t("c1", "usage_drop", "2026-03-16"),  # exactly churn - 30 d: caught at 30, not at 60
    _t("c2", "health_at_risk", "2026-03-01"),  # churn - 19 d: too late for recall, lead 19
    _t("c2", "nps_detractor", "2026-03-25"),  # after the churn
    _t("c3", "usage_drop", "2026-01-05", "csm-b"),  # warm-up
    _t("d1", "champion_silent", "2026-02-20", "csm-b"),  # dip start - 9 d: right
    _t("d1", "usage_drop", "2026-02-10", "csm-b"),  # dip start - 19 d: wrong
    _t("g1", "support_escalation", "2026-03-10", None),  # downgraded: wrong, not healthy
    _t("h1", "usage_drop", "2026-01-10"),  # warm-up, healthy: in chance windows, not noise
    _t("h1", "usage_drop", "2026-02-03"),
    _t("h2", "nps_detractor", "2026-03-17"),
    _t("h4", "my_alarm", "2026-04-21", "csm-b"),  # user-defined at high: risk
    # Never risk:
    _t("h3", "renewal_approaching", "2026-02-04", priority="critical"),
    _t("h2", "expansion_signal", "2026-03-01", priority="medium"),  # expand - 40 d: caught
    _t("h3", "expansion_signal", "2026-02-05", priority="medium"),  # false expansion
    _t("h4", "my_rule", "2026-02-05", "csm-b", priority="medium"),  # user-defined at medium
    # Not openings:
    _t("c4", "usage_drop", "2026-03-01", action="updated"),
    _t("h1", "usage_drop", "2026-02-04", action="resolved", dismissed="not_useful"),
]


@pytest.fixture(scope="module")
def result() -> dict:
    return score(TASKS, OUTCOMES, BOOK)


def test_risk_tasks_are_the_catalogue_and_high_user_defined_openings() -> None:
    risky = [t for t in TASKS if is_risk(t)]
    assert len(risky) == 11
    assert not is_risk(_t("x", "renewal_approaching", "2026-02-01", priority="critical"))
    assert not is_risk(_t("x", "my_rule", "2026-02-01", priority="medium"))
    assert is_risk(_t("x", "my_rule", "2026-02-01", priority="critical"))
    assert not is_risk(_t("x", "usage_drop", "2026-02-01", action="updated"))
    # A user playbook with a built-in kind counts as that kind.
    assert is_risk(_t("x", "big_drop", "2026-02-01", priority="low"), {"big_drop": "usage_drop"})
    assert not is_risk(_t("x", "renew", "2026-02-01"), {"renew": "renewal_approaching"})


def test_book_and_task_counts(result: dict) -> None:
    book, tasks = result["book"], result["tasks"]
    assert book["warmup_end"] == "2026-01-31"
    assert book["post_warmup_days"] == 91 and book["quarters"] == 1.0
    assert book["full_weeks"] == 12
    assert (book["accounts"], book["healthy"], book["churned"]) == (11, 5, 4)
    assert (book["expanded"], book["dipped"], book["downgraded"]) == (2, 1, 1)
    assert tasks == {
        "opened": 15,
        "risk": 11,
        "risk_warmup": 2,
        "risk_post_warmup": 9,
        "risk_warmup_on_healthy": 1,
    }


def test_churn_recall_counts_a_task_exactly_at_churn_minus_30_days(result: dict) -> None:
    m = result["metrics"]
    # Counted at 30: c1, c2, c4 (c3's window ends in the warm-up). Caught: c1 only.
    assert m["churn_recall_30"]["churners"] == 3
    assert m["churn_recall_30"]["caught"] == 1
    assert m["churn_recall_30"]["value"] == pytest.approx(1 / 3)
    assert m["churn_recall_30"]["met"] is False
    # Counted at 60: c1 and c4 (c2's window [churn-120, churn-60] ends before Jan 31).
    assert (m["churn_recall_60"]["caught"], m["churn_recall_60"]["churners"]) == (0, 2)
    assert m["churn_recall_60"]["value"] == 0.0


def test_chance_and_lift(result: dict) -> None:
    m = result["metrics"]
    # Healthy h1..h5; risk days h1 Jan 10 + Feb 3, h2 Mar 17, h4 Apr 21.
    # c1 [Dec 16, Mar 16]: h1 -> 1/5; c2 [Nov 20, Feb 18]: h1 -> 1/5;
    # c4 [Dec 29, Mar 29]: h1, h2 -> 2/5. Mean 0.8 / 3.
    assert m["chance_30"]["value"] == pytest.approx(0.8 / 3)
    assert m["chance_30"]["met"] is False
    assert m["lift_30"]["value"] == pytest.approx((1 / 3) / (0.8 / 3))
    # c1 [Dec 16, Feb 14]: h1; c4 [Dec 29, Feb 27]: h1 -> 0.2; recall 0 -> lift 0.
    assert m["chance_60"]["value"] == pytest.approx(0.2)
    assert m["lift_60"]["value"] == 0.0


def test_lead_time_ignores_tasks_after_churn(result: dict) -> None:
    lead = result["metrics"]["lead_time_days"]
    # c1: 30 days, c2: 19 days (its Mar 25 task is after the churn), c4: none.
    assert lead["value"] == 24.5
    assert (lead["churners_with_lead"], lead["churners_without"]) == (2, 1)
    assert lead["met"] is False


def test_noise_excludes_the_warm_up(result: dict) -> None:
    noise = result["metrics"]["noise"]
    # h1 Feb 3, h2 Mar 17, h4 Apr 21 on 5 healthy accounts in one quarter.
    assert noise["tasks"] == 3
    assert noise["value"] == pytest.approx(0.6)
    assert noise["share_with_any"] == pytest.approx(0.6)
    assert noise["met"] is False


def test_storm_is_the_worst_full_week_over_the_mean(result: dict) -> None:
    storm = result["metrics"]["storm"]
    # 9 scored risk tasks over 12 full weeks; the week of Mar 16 has two (Mon 16, Tue 17).
    assert storm["worst_week"] == "2026-03-16"
    assert storm["worst_week_tasks"] == 2
    # c1's task 30 days before its churn is right, h2's is on a healthy account.
    assert (storm["worst_week_right"], storm["worst_week_on_healthy"]) == (1, 1)
    assert storm["mean_week_tasks"] == pytest.approx(0.75)
    assert storm["value"] == pytest.approx(2 / 0.75)
    assert storm["met"] is False
    assert storm["by_chance"] == chance_storm(9, 12)


def test_storm_by_chance_is_the_floor_that_timing_alone_sets() -> None:
    # Nothing to spread, or one week: no storm can come of it.
    assert chance_storm(0, 10) is None and chance_storm(5, 0) is None
    assert chance_storm(7, 1) == 1.0
    # One task over 4 weeks: its week holds all of it, 4x the mean, every draw.
    assert chance_storm(1, 4) == pytest.approx(4.0)
    # Seeded by the counts: the same figure on every run.
    assert chance_storm(192, 21) == chance_storm(192, 21)
    # Few tasks over many weeks make a high floor; many tasks bring it towards 1.
    few, many = chance_storm(192, 21), chance_storm(5_000, 21)
    assert few is not None and many is not None
    assert 1.55 < few < 1.8  # what a 300-account book's risk tasks show by chance alone
    assert 1.0 < many < 1.15 < few
    # Past the exact range, the normal approximation continues the same curve.
    edge = CHANCE_STORM_EXACT_UP_TO
    assert chance_storm(edge + 1, 47) == pytest.approx(chance_storm(edge, 47), abs=0.01)


def test_precision_counts_churn_within_120_days_and_dips(result: dict) -> None:
    precision = result["metrics"]["precision"]
    # Right: c1 Mar 16, c2 Mar 1, d1 Feb 20 (dip from Mar 1 - 14 d). Wrong: c2 after churn,
    # d1 Feb 10, g1 (downgrade), h1, h2, h4.
    assert (precision["hits"], precision["tasks"]) == (3, 9)
    assert precision["value"] == pytest.approx(1 / 3)


def test_expansion(result: dict) -> None:
    m = result["metrics"]
    assert (m["expansion_recall"]["caught"], m["expansion_recall"]["expanders"]) == (1, 1)
    assert m["expansion_recall"]["met"] is True
    # h3's signal on 9 never-expanders in one quarter.
    assert m["false_expansion"]["tasks"] == 1 and m["false_expansion"]["accounts"] == 9
    assert m["false_expansion"]["value"] == pytest.approx(1 / 9)
    assert m["false_expansion"]["met"] is False


def test_csm_load_after_churn_and_dismissals(result: dict) -> None:
    m = result["metrics"]
    # Owners csm-a, csm-b, unassigned x 12 weeks; 9 tasks; csm-a has 2 in the week of Mar 16.
    assert m["csm_load"]["mean"] == pytest.approx(9 / 36)
    assert (m["csm_load"]["max"], m["csm_load"]["max_owner"]) == (2, "csm-a")
    assert m["csm_load"]["max_week"] == "2026-03-16"
    assert m["after_churn"] == {"tasks": 1, "risk_tasks": 1}
    dismissed = result["dismissed"]
    assert dismissed["tasks"] == 1 and dismissed["share"] == pytest.approx(1 / 15)
    assert dismissed["by_reason"]["not_useful"]["tasks"] == 1


def test_per_playbook(result: dict) -> None:
    pbs = result["playbooks"]
    usage = pbs["usage_drop"]
    assert (usage["opened"], usage["risk_opened"], usage["risk_post_warmup"]) == (5, 5, 3)
    assert usage["on_healthy"] == 1 and usage["noise"] == pytest.approx(0.2)
    assert usage["precision"] == pytest.approx(1 / 3)
    assert usage["churners_caught_30"] == 1
    assert usage["dismissed"] == 1 and usage["dismissed_share"] == pytest.approx(0.2)
    assert usage["dismissed_reasons"] == {"not_useful": 1}
    nps = pbs["nps_detractor"]
    assert (nps["precision"], nps["churners_caught_30"], nps["after_churn"]) == (0.0, 0, 1)
    assert pbs["my_alarm"]["risk_opened"] == 1
    assert pbs["my_rule"]["risk_opened"] == 0 and pbs["my_rule"]["noise"] is None
    assert pbs["renewal_approaching"]["churners_caught_30"] is None


def test_dismissals_are_read_from_the_feedback_resolution() -> None:
    moment = datetime(2026, 2, 3, tzinfo=UTC)
    common = {"account_id": "h1", "playbook": "usage_drop", "priority": "high",
              "created_at": moment, "owner_id": None, "task_id": "t1"}  # fmt: skip
    messages = [
        SimpleNamespace(action="opened", evidence={"drop": 0.4}, **common),
        SimpleNamespace(
            action="resolved",
            evidence={"opened_with": {}, "feedback": {"action": "dismissed", "reason": "other"}},
            **common,
        ),
        SimpleNamespace(action="resolved", evidence={"feedback": {"action": "done"}}, **common),
    ]
    tasks = scored_tasks(messages)
    assert [t.dismissed_reason for t in tasks] == [None, "other", None]


def test_no_churners_gives_nulls_not_errors() -> None:
    outcomes = [Outcome("h1", "renewed", date(2026, 4, 1))]
    result = score([], outcomes, BOOK)
    m = result["metrics"]
    for name in ("churn_recall_30", "churn_recall_60", "chance_30", "lift_30", "precision"):
        assert m[name]["value"] is None, name
    assert m["churn_recall_30"]["met"] is None
    assert m["lead_time_days"]["value"] is None
    assert m["expansion_recall"]["value"] is None
    assert m["noise"]["value"] == 0.0 and m["storm"]["value"] is None
    table = render_table(result)
    assert "n/a" in table
    json.loads(render_json(result))
    xml.dom.minidom.parseString(_svg(render_chart(result)))


def test_table_json_and_chart(result: dict) -> None:
    table = render_table(result)
    assert "churn recall @30d" in table and "NOT MET" in table and "≥ 0.85" in table
    assert table.index("Overall") < table.index("Per playbook")
    assert "usage_drop" in table
    data = json.loads(render_json(result))
    assert data["metrics"]["storm"]["worst_week"] == "2026-03-16"
    html = render_chart(result)
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert "worst week" in html and "warm-up" in html
    by_chance = f"by chance {data['metrics']['storm']['by_chance']:.2f}"
    assert by_chance in table and by_chance in html
    xml.dom.minidom.parseString(_svg(html))


def _svg(html: str) -> str:
    return html[html.index("<svg") : html.index("</svg>") + 6]


# -- the outcomes file ------------------------------------------------------------------------


def test_outcomes_jsonl_and_csv_read_the_same() -> None:
    jsonl = (
        '{"account_id": "a", "outcome": "churned", "date": "2026-03-01"}\n\n'
        '{"account_id": "b", "outcome": "dipped", "date": "2026-02-01", "until": "2026-03-01",'
        ' "note": "seasonal"}\n'
    )
    csv_text = (
        "\n account_id,outcome,date,until,note\n"
        "a,churned,2026-03-01,,\n"
        "\n"
        "b,dipped,2026-02-01,2026-03-01,seasonal\n"
    )
    rows_j, errors_j = parse_outcomes(jsonl)
    rows_c, errors_c = parse_outcomes(csv_text)  # detected by its first character
    assert errors_j == [] and errors_c == []
    strip = [(r.account_id, r.outcome, r.date, r.until) for r in rows_j]
    assert strip == [(r.account_id, r.outcome, r.date, r.until) for r in rows_c]
    assert strip[1] == ("b", "dipped", date(2026, 2, 1), date(2026, 3, 1))
    assert [r.line_no for r in rows_j] == [1, 3]
    assert [r.line_no for r in rows_c] == [3, 5]


def test_bad_outcome_rows_name_the_line_and_the_problem() -> None:
    text = "\n".join(
        [
            '{"account_id": "a", "outcome": "lost", "date": "2026-03-01"}',
            '{"account_id": "a", "outcome": "churned", "date": "03/01/2026"}',
            '{"outcome": "churned", "date": "2026-03-01"}',
            '{"account_id": "a", "outcome": "dipped", "date": "2026-03-01"}',
            '{"account_id": "a", "outcome": "dipped", "date": "2026-03-01", "until": "2026-02-01"}',
            '{"account_id":"a","outcome":"renewed","date":"2026-03-01","until":"2026-04-01"}',
            "not json",
            "[1, 2]",
            '{"account_id": "ok", "outcome": "renewed", "date": "2026-03-01"}',
        ]
    )
    rows, errors = parse_outcomes(text)
    assert [r.account_id for r in rows] == ["ok"]
    by_line = {e.line_no: e.message for e in errors}
    assert sorted(by_line) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert "outcome" in by_line[1] and "lost" in by_line[1]
    assert "YYYY-MM-DD" in by_line[2] and "03/01/2026" in by_line[2]
    assert "account_id" in by_line[3]
    assert "until" in by_line[4] and "before" in by_line[5] and "only a dipped" in by_line[6]
    assert "JSON" in by_line[7] and "object" in by_line[8]


def test_bad_csv_header_and_rows() -> None:
    rows, errors = parse_outcomes("account,outcome,date\na,churned,2026-03-01\n", csv_format=True)
    assert rows == [] and errors[0].line_no == 1 and "account_id" in errors[0].message
    rows, errors = parse_outcomes(
        "account_id,outcome,date\na,churned,2026-03-01,extra\nb,churned,2026-13-01\n"
    )
    assert rows == [] and [e.line_no for e in errors] == [2, 3]


# -- the command ------------------------------------------------------------------------------


def _small_book(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """20 demo accounts over 8 weeks, the outcomes their archetypes imply, and two bad rows."""
    from workers.local.sample import generate_sample

    events = generate_sample(accounts=20, weeks=8)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    archetypes = {e["account_id"]: e["sample_archetype"] for e in events if "sample_archetype" in e}
    rows = ["account_id,outcome,date"]
    for account, archetype in sorted(archetypes.items()):
        if archetype in ("declining", "sliding", "usage_stops"):
            rows.append(f"{account},churned,2026-11-10")
        elif archetype == "expansion":
            rows.append(f"{account},expanded,2026-10-20")
        else:
            rows.append(f"{account},renewed,2026-10-31")
    rows += ["nobody,churned,2026-10-01", "acc-001,vanished,2026-10-01"]
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("\n".join(rows) + "\n")
    return path, outcomes, rows


def test_evaluate_command_prints_table_json_and_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, outcomes, rows = _small_book(tmp_path)
    chart = tmp_path / "chart.html"

    argv = ["evaluate", str(path), "--outcomes", str(outcomes)]
    assert main([*argv, "--chart", str(chart)]) == 0
    out, err = capsys.readouterr()
    assert "churn recall @30d" in out and "Per playbook" in out
    assert "noise /healthy acct /qtr" in out and "≤ 0.3" in out
    assert f"{outcomes}:{len(rows)}:" in err and "vanished" in err  # the bad row, by line
    assert "nobody" in err  # an account without events
    assert "running rules" in err and "scoring" in err
    html = chart.read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html and "<script" not in html

    assert main([*argv, "--json", "--quiet"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert err == "" or "warning" in err or "vanished" in err
    assert data["book"]["accounts"] == 20
    assert data["input"]["outcome_accounts_without_events"] == 1
    assert set(data["metrics"]) >= {
        "churn_recall_30",
        "chance_30",
        "lead_time_days",
        "noise",
        "storm",
        "precision",
        "expansion_recall",
        "false_expansion",
        "csm_load",
        "after_churn",
    }

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"account_id": "a", "outcome": "gone", "date": "2026-10-01"}\n')
    assert main(["evaluate", str(path), "--outcomes", str(bad)]) == 2
    assert f"{bad}:1:" in capsys.readouterr().err


def test_evaluate_against_a_baseline_shows_both_rules_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, outcomes, _rows = _small_book(tmp_path)
    bundled = (Path(__file__).resolve().parents[2] / "config" / "rules.yaml").read_text()
    # The baseline has usage_drop switched off.
    assert "\n  usage_drop:\n" in bundled
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text(
        bundled.replace("\n  usage_drop:\n", "\n  usage_drop:\n    enabled: false\n", 1)
    )
    argv = ["evaluate", str(path), "--outcomes", str(outcomes), "--quiet"]

    assert main([*argv, "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["playbooks"]["usage_drop"]["opened"] > 0 and "baseline" not in alone

    assert main([*argv, "--json", "--baseline", str(baseline)]) == 0
    both = json.loads(capsys.readouterr().out)
    assert both["metrics"] == alone["metrics"]  # the rules' own figures are unchanged
    assert both["baseline"]["rules"] == str(baseline)
    assert "usage_drop" not in both["baseline"]["playbooks"]
    assert both["baseline"]["metrics"] != both["metrics"]

    assert main([*argv, "--baseline", str(baseline)]) == 0
    out = capsys.readouterr().out
    compared = out[out.index("Compared with the baseline rules") :]
    assert str(baseline) in compared and "the bundled rules" in compared
    opened = alone["playbooks"]["usage_drop"]["opened"]
    line = next(x for x in compared.splitlines() if x.strip().startswith("usage_drop"))
    before, after = line.split("->")
    assert "not in these rules" in before and after.split()[0] == f"{opened}"

    broken = tmp_path / "broken.yaml"
    broken.write_text(bundled.replace("sla: 24h", "sla: soon", 1))
    assert main([*argv, "--baseline", str(broken)]) == 2
    assert "bad baseline rules" in capsys.readouterr().err
