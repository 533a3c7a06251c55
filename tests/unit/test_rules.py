"""The rules file: defaults from DOMAIN.md, segment resolution, and human error messages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from config.metrics_catalogue import METRICS
from config.rules import (
    DEFAULT_RULES_PATH,
    RulesError,
    build_rules,
    check_rules_file,
    load_rules,
    parse_condition,
    parse_duration,
)


@pytest.fixture(scope="module")
def base_doc() -> dict:
    return yaml.safe_load(DEFAULT_RULES_PATH.read_text())


def write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_bundled_rules_carry_the_domain_defaults() -> None:
    rules = load_rules()
    assert rules.health.weights == {
        "usage": 0.30,
        "adoption": 0.20,
        "engagement": 0.20,
        "satisfaction": 0.15,
        "support": 0.15,
    }
    assert (rules.health.bands.champion, rules.health.bands.healthy) == (85, 70)
    assert rules.health.bands.at_risk == 50
    assert rules.evaluation.interval == timedelta(hours=1)
    assert rules.dedup.max_event_ids == 2000
    expected = {
        "nps_detractor": ("high", timedelta(hours=24)),
        "usage_drop": ("high", timedelta(hours=48)),
        "support_escalation": ("high", timedelta(hours=8)),
        "health_at_risk": ("high", timedelta(hours=48)),
        "health_critical": ("critical", timedelta(hours=24)),
        "expansion_signal": ("medium", timedelta(days=7)),
        "renewal_approaching": ("medium", timedelta(days=7)),
        "champion_silent": ("medium", timedelta(hours=48)),
        "low_adoption": ("medium", timedelta(days=7)),
        # DOMAIN.md, Engagement
        "cadence_overdue": ("medium", timedelta(days=3)),
        "qbr_due": ("medium", timedelta(days=7)),
        "customer_unresponsive": ("high", timedelta(hours=48)),
        "milestone_overdue": ("medium", timedelta(hours=48)),
        "onboarding_stalled": ("high", timedelta(hours=48)),
    }
    got = {pid: (pb.priority, pb.sla) for pid, pb in rules.playbooks.items()}
    assert got == expected
    assert rules.playbooks["milestone_overdue"].params["phase_priority"] == {"onboard": "high"}
    assert rules.playbooks["onboarding_stalled"].params["target_days"] == 14
    assert all(pb.steps and pb.cooldown == timedelta(days=7) for pb in rules.playbooks.values())
    assert check_rules_file(DEFAULT_RULES_PATH) == []


def test_cadences_per_tier() -> None:
    """DOMAIN.md: enterprise checks in monthly (meetings, calls) with a quarterly QBR,
    mid-market monthly with a QBR every six months, smb every quarter with no QBR."""
    rules = load_rules()
    ent = rules.for_segment("enterprise").engagement
    mid = rules.for_segment("mid_market").engagement
    smb = rules.for_segment("smb").engagement
    assert (ent.checkin_every, ent.qbr_every) == (timedelta(days=30), timedelta(days=90))
    assert ent.checkin_kinds == ["meeting", "call", "qbr"]
    assert (mid.checkin_every, mid.qbr_every) == (timedelta(days=30), timedelta(days=180))
    assert "email" in mid.checkin_kinds
    assert (smb.checkin_every, smb.qbr_every) == (timedelta(days=90), None)
    assert rules.engagement.outreach_kinds == ["email", "call"]


def test_engagement_overrides_are_validated() -> None:
    data = yaml.safe_load(DEFAULT_RULES_PATH.read_text())
    data["segments"]["smb"]["engagement"] = {"checkin_every": "soon", "cadence": 3}
    data["playbooks"]["onboarding_stalled"]["params"] = {
        "first_value_features": ["dashboards"],
        "first_value_min_features": 2,
    }
    with pytest.raises(RulesError) as err:
        build_rules(data, "r.yaml")
    text = "\n".join(err.value.errors)
    assert "segments.smb.engagement.checkin_every" in text
    assert "segments.smb.engagement.cadence" in text
    assert "playbooks.onboarding_stalled.params" in text and "first_value_min_features" in text


def test_enterprise_override_applies_only_to_enterprise() -> None:
    rules = load_rules()
    ent = rules.for_segment("enterprise").playbooks["support_escalation"]
    smb = rules.for_segment("smb").playbooks["support_escalation"]
    assert (ent.priority, ent.sla) == ("critical", timedelta(hours=4))
    assert (smb.priority, smb.sla) == ("high", timedelta(hours=8))
    assert rules.for_segment(None) is rules
    # The override keeps the rest of the playbook.
    assert ent.steps == rules.playbooks["support_escalation"].steps


def test_segment_can_override_health_weights(base_doc: dict) -> None:
    doc = {
        **base_doc,
        "segments": {
            "smb": {
                "health": {
                    "weights": {
                        "usage": 0.5,
                        "adoption": 0.1,
                        "engagement": 0.1,
                        "satisfaction": 0.15,
                        "support": 0.15,
                    }
                }
            }
        },
    }
    rules = build_rules(doc)
    assert rules.for_segment("smb").health.weights["usage"] == 0.5
    assert rules.for_segment("enterprise").health.weights["usage"] == 0.30


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("8h", timedelta(hours=8)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["8", "eight hours", "8 hours", "-1h", "0h", "", "8y"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="valid: a duration like"):
        parse_duration(text)


def test_condition_parsing() -> None:
    clauses, problems = parse_condition("open_tickets >= 6 and latest_nps <= 6")
    assert problems == []
    assert [(c.metric, c.op, c.value) for c in clauses] == [
        ("open_tickets", ">=", 6.0),
        ("latest_nps", "<=", 6.0),
    ]
    assert parse_condition("usage_change_7d < -0.2")[0][0].value == -0.2
    assert "unknown metric 'tickets'" in parse_condition("tickets > 1")[1][0]
    assert "bad operator '=>'" in parse_condition("open_tickets => 6")[1][0]
    assert parse_condition("open_tickets >= six")[1]


def _errors_for(tmp_path: Path, doc: dict) -> list[str]:
    path = write(tmp_path, doc)
    errors = check_rules_file(path)
    assert errors, "expected the file to be rejected"
    for message in errors:
        assert message.startswith(f"{path}: ")
        assert "; valid: " in message
    with pytest.raises(RulesError) as info:
        load_rules(path)
    assert info.value.errors == errors
    return errors


def _custom(condition: str, **extra: object) -> dict:
    return {"condition": condition, "priority": "high", "owner_role": "csm", "sla": "8h", **extra}


def test_unknown_metric_is_named(tmp_path: Path, base_doc: dict) -> None:
    doc = {**base_doc, "playbooks": {**base_doc["playbooks"], "mine": _custom("tickets >= 6")}}
    (err,) = _errors_for(tmp_path, doc)
    assert ": playbooks.mine.condition: unknown metric 'tickets'" in err
    assert "open_tickets" in err  # lists the valid names


def test_bad_operator_is_named(tmp_path: Path, base_doc: dict) -> None:
    doc = {**base_doc, "playbooks": {**base_doc["playbooks"], "mine": _custom("open_tickets =< 6")}}
    (err,) = _errors_for(tmp_path, doc)
    assert ": playbooks.mine.condition: bad operator '=<'" in err
    assert "valid: one of >=, <=" in err


def test_weights_not_summing_to_one(tmp_path: Path, base_doc: dict) -> None:
    health = {**base_doc["health"], "weights": {**base_doc["health"]["weights"], "usage": 0.5}}
    (err,) = _errors_for(tmp_path, {**base_doc, "health": health})
    assert ": health.weights: weights sum to 1.2; valid: non-negative weights summing to 1" in err


def test_segment_weights_checked_after_override(tmp_path: Path, base_doc: dict) -> None:
    doc = {**base_doc, "segments": {"enterprise": {"health": {"weights": {"usage": 0.4}}}}}
    (err,) = _errors_for(tmp_path, doc)
    assert ": segments.enterprise.health.weights: weights sum to 1.1" in err


def test_bad_sla_is_named(tmp_path: Path, base_doc: dict) -> None:
    playbooks = {**base_doc["playbooks"]}
    playbooks["usage_drop"] = {**playbooks["usage_drop"], "sla": "two days"}
    (err,) = _errors_for(tmp_path, {**base_doc, "playbooks": playbooks})
    assert ": playbooks.usage_drop.sla: 'two days' is not a positive duration" in err
    assert '"8h"' in err


def test_bad_segment_sla_is_named(tmp_path: Path, base_doc: dict) -> None:
    doc = {**base_doc, "segments": {"smb": {"playbooks": {"usage_drop": {"sla": "4x"}}}}}
    (err,) = _errors_for(tmp_path, doc)
    assert ": segments.smb.playbooks.usage_drop.sla: '4x' is not a positive duration" in err


def test_unknown_fields_and_kinds(tmp_path: Path, base_doc: dict) -> None:
    playbooks = {**base_doc["playbooks"]}
    playbooks["usage_drop"] = {**playbooks["usage_drop"], "colour": "red"}
    playbooks["champion_silent"] = {
        **playbooks["champion_silent"],
        "params": {"max_inactive_days": 10, "max_days": 3},
    }
    playbooks["mystery"] = {"priority": "high", "owner_role": "csm", "sla": "8h"}
    playbooks["nps_detractor"] = {**playbooks["nps_detractor"], "priority": "urgent"}
    errors = _errors_for(tmp_path, {**base_doc, "playbooks": playbooks})
    joined = "\n".join(errors)
    assert ": playbooks.usage_drop.colour: unknown field 'colour'; valid: one of kind," in joined
    assert "playbooks.nps_detractor.priority: 'urgent' is not allowed" in joined


def test_unknown_params_and_kind(tmp_path: Path, base_doc: dict) -> None:
    playbooks = {**base_doc["playbooks"]}
    playbooks["champion_silent"] = {**playbooks["champion_silent"], "params": {"max_days": 3}}
    playbooks["mystery"] = {"priority": "high", "owner_role": "csm", "sla": "8h"}
    errors = _errors_for(tmp_path, {**base_doc, "playbooks": playbooks})
    joined = "\n".join(errors)
    assert "playbooks.champion_silent.params.max_days: unknown field 'max_days'" in joined
    assert "valid: one of max_inactive_days" in joined
    assert "playbooks.mystery: unknown playbook kind 'mystery'" in joined


def test_override_of_unknown_playbook(tmp_path: Path, base_doc: dict) -> None:
    doc = {**base_doc, "segments": {"smb": {"playbooks": {"nope": {"priority": "low"}}}}}
    (err,) = _errors_for(tmp_path, doc)
    assert "segments.smb.playbooks.nope: overrides unknown playbook 'nope'" in err


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("health:\n  weights: {usage: 0.3\nplaybooks: {}\n")
    (err,) = check_rules_file(path)
    assert err.startswith(f"{path}: line ")
    assert "invalid YAML" in err


def test_missing_file() -> None:
    (err,) = check_rules_file("/nonexistent/rules.yaml")
    assert "/nonexistent/rules.yaml" in err and "cannot read" in err


def test_metric_catalogue_is_documented() -> None:
    for name in (
        "active_users_7d",
        "active_users_prev_7d",
        "active_users_7d_ratio",
        "usage_change_7d",
        "features_used_30d",
        "adoption_ratio",
        "days_since_champion_active",
        "open_tickets",
        "open_high_urgent_tickets",
        "escalations_30d",
        "oldest_urgent_ticket_age_hours",
        "latest_nps",
        "days_since_last_nps",
        "health_score",
        "observed_days",
        "days_to_renewal",
        "days_since_contract_start",
        "licensed_seats",
        "arr",
    ):
        assert METRICS[name]


def test_warmup_defaults() -> None:
    rules = load_rules()
    assert rules.health.warmup_days == 7
    assert rules.playbooks["low_adoption"].params["min_observed_days"] == 14
    assert rules.compiled.by_kind["low_adoption"][0].params.min_observed_days == 14
    for segment in ("enterprise", "mid_market", "smb"):
        assert rules.for_segment(segment).health.warmup_days == 7
    # A user-defined condition can wait for the history too.
    clauses, problems = parse_condition("observed_days >= 30 and adoption_ratio < 0.5")
    assert problems == [] and clauses[0].metric == "observed_days"


def test_warmup_overridable_per_segment(base_doc: dict) -> None:
    doc = {
        **base_doc,
        "segments": {
            "enterprise": {
                "health": {"warmup_days": 14},
                "playbooks": {"low_adoption": {"params": {"min_observed_days": 21}}},
            },
            "smb": {"health": {"warmup_days": 0}},
        },
    }
    rules = build_rules(doc)
    ent, smb, mid = (rules.for_segment(s) for s in ("enterprise", "smb", "mid_market"))
    assert (ent.health.warmup_days, smb.health.warmup_days, mid.health.warmup_days) == (14, 0, 7)
    ent_low, smb_low = (r.compiled.by_kind["low_adoption"][0].params for r in (ent, smb))
    assert (ent_low.min_observed_days, smb_low.min_observed_days) == (21, 14)
    # The override keeps the rest of the low_adoption params.
    assert ent_low.after_contract_days == 60


@pytest.mark.parametrize(
    ("section", "value", "path"),
    [
        ("health", -1, "health.warmup_days"),
        ("health", "a week", "health.warmup_days"),
        ("health", 400, "health.warmup_days"),
        ("low_adoption", -3, "playbooks.low_adoption.params.min_observed_days"),
        ("low_adoption", "2w", "playbooks.low_adoption.params.min_observed_days"),
    ],
)
def test_bad_warmup_values_are_named(
    tmp_path: Path, base_doc: dict, section: str, value: object, path: str
) -> None:
    if section == "health":
        doc = {**base_doc, "health": {**base_doc["health"], "warmup_days": value}}
    else:
        playbooks = {**base_doc["playbooks"]}
        low = playbooks["low_adoption"]
        playbooks["low_adoption"] = {**low, "params": {**low["params"], "min_observed_days": value}}
        doc = {**base_doc, "playbooks": playbooks}
    errors = _errors_for(tmp_path, doc)
    assert any(f": {path}: " in e for e in errors), errors


def test_bad_segment_warmup_is_named(tmp_path: Path, base_doc: dict) -> None:
    doc = {**base_doc, "segments": {"smb": {"health": {"warmup_days": -2}}}}
    (err,) = _errors_for(tmp_path, doc)
    assert ": segments.smb.health.warmup_days: " in err
