"""Task feedback from people, applied by the core: acknowledge, snooze, done, dismiss."""

from __future__ import annotations

from workers.core.codec import decode_state, encode_state
from workers.core.testing import Sim, at


def _detractor() -> Sim:
    sim = Sim()
    sim.account(at(0, 8), csm_id="csm-ana")
    sim.nps(at(0, 10), 2)
    assert sim.actions("nps_detractor") == ["opened"]
    return sim


def test_done_resolves_the_task_then_the_cooldown_applies() -> None:
    sim = _detractor()
    opened = sim.of("nps_detractor")[0]
    sim.feedback(at(0, 11), opened, "done")
    resolved = sim.of("nps_detractor")[-1]
    assert resolved.action == "resolved" and resolved.task_id == opened.task_id
    assert "Marked done by ana via board" in resolved.reason
    assert resolved.evidence["feedback"]["action"] == "done"
    sim.nps(at(2, 10), 1)  # within the 7-day cool-down, no worse than when opened: quiet
    assert sim.actions("nps_detractor") == ["opened", "resolved"]
    sim.nps(at(9, 10), 1)  # after the cool-down: a new episode
    assert sim.actions("nps_detractor") == ["opened", "resolved", "opened"]
    assert sim.of("nps_detractor")[-1].episode == 2


def test_dismissed_resolves_with_its_reason() -> None:
    sim = _detractor()
    sim.feedback(at(0, 11), sim.of("nps_detractor")[0], "dismissed", reason="already_known")
    resolved = sim.of("nps_detractor")[-1]
    assert resolved.action == "resolved"
    assert "already known" in resolved.reason
    assert resolved.evidence["feedback"]["reason"] == "already_known"


def test_snoozed_holds_updates_until_it_ends() -> None:
    sim = _detractor()
    opened = sim.of("nps_detractor")[0]
    sim.feedback(at(0, 11), opened, "snoozed", until=at(2))
    sim.nps(at(1, 10), 0)  # another detractor response while snoozed: no update
    assert sim.actions("nps_detractor") == ["opened"]
    sim.nps(at(3, 10), 1)  # after the snooze: updates flow again
    assert sim.actions("nps_detractor")[-1] == "updated"


def test_acknowledged_is_recorded_without_a_message() -> None:
    sim = _detractor()
    out = sim.feedback(at(0, 11), sim.of("nps_detractor")[0], "acknowledged")
    assert out.applied and out.tasks == []
    task = sim.state.tasks["nps_detractor"]
    assert task.acknowledged_at is not None and task.open
    # and the state keeps it through the codec
    again = decode_state(encode_state(sim.state)).state
    assert again.tasks["nps_detractor"].acknowledged_at == task.acknowledged_at


def test_feedback_on_another_episode_or_a_resolved_task_changes_nothing() -> None:
    sim = _detractor()
    opened = sim.of("nps_detractor")[0]
    sim.feedback(at(0, 11), opened, "done")
    assert sim.feedback(at(0, 12), opened, "done").tasks == []  # already resolved
    sim.nps(at(9, 10), 1)
    stale = sim.feedback(at(9, 11), opened, "dismissed", reason="other")  # episode 1's id
    assert stale.tasks == [] and sim.state.tasks["nps_detractor"].open


def test_a_redelivered_feedback_counts_once() -> None:
    sim = _detractor()
    opened = sim.of("nps_detractor")[0]
    sim.feedback(at(0, 11), opened, "done", event_id="fb-1")
    again = sim.feedback(at(0, 11), opened, "done", event_id="fb-1")
    assert not again.applied
