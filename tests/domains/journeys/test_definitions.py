"""Bad definitions are refused with every problem's path, step and stable code."""

from __future__ import annotations

from typing import Any

import pytest

from siyu.domains.journeys import definition as d

OK_STEPS = [{"id": "a", "type": "add_tag", "tag": "x"}]


def problems(raw: Any) -> list[tuple[str, str, str | None]]:
    with pytest.raises(d.InvalidJourney) as info:
        d.parse(raw)
    assert info.value.status == 422 and info.value.code == "invalid_journey"
    return [(e["path"], e["code"], e.get("step")) for e in info.value.details["errors"]]


def test_unknown_targets_name_the_step() -> None:
    raw = {"trigger": {"type": "manual"}, "steps": [
        {"id": "a", "type": "add_tag", "tag": "x", "next": "ghost"},
        {"id": "b", "type": "split", "branches": [{"percent": 50, "next": "a"}, {"percent": 50, "next": "nope"}]}]}
    assert problems(raw) == [("$.steps[0].next", "unknown_step", "a"), ("$.steps[1].branches[1].next", "unknown_step", "b")]


def test_unreachable_steps_and_loops_without_a_wait() -> None:
    unreachable = {"trigger": {"type": "manual"}, "steps": [*OK_STEPS, {"id": "lost", "type": "exit"}]}
    assert problems(unreachable) == [("$.steps[1]", "unreachable_step", "lost")]
    loop = {"trigger": {"type": "manual"}, "steps": [
        {"id": "a", "type": "add_tag", "tag": "x", "next": "b"},
        {"id": "b", "type": "branch", "rule": {"attribute": "city", "op": "eq", "value": "上海"}, "yes": "a", "no": "c"},
        {"id": "c", "type": "exit"}]}
    assert problems(loop) == [("$.steps[0]", "loop_without_wait", "a")]
    weekly = {"trigger": {"type": "manual"}, "steps": [
        {"id": "a", "type": "add_tag", "tag": "x", "next": "w"},
        {"id": "w", "type": "wait", "duration": {"days": 7}, "next": "a"}]}
    assert d.parse(weekly).first == "a"  # a loop through a wait is fine


def test_shapes_and_policies() -> None:
    raw = {"trigger": {"type": "event"}, "holdout_percent": 95, "reentry": {"policy": "sometimes"},
           "steps": [{"id": "a", "type": "wait", "duration": {"weeks": 1}},
                     {"id": "a", "type": "exit"},
                     {"id": "c", "type": "teleport"},
                     {"id": "d", "type": "send_message", "channel": "pigeon", "content": {}},
                     {"id": "e", "type": "wait_for_event", "event": "order_paid", "timeout": {"days": 1}},
                     {"id": "f", "type": "wait_until_time", "at": "25:00"}]}
    assert problems(raw) == [
        ("$.trigger.event", "invalid_event", None),
        ("$.steps[0].duration", "invalid_duration", "a"),
        ("$.steps[1].id", "duplicate_step", "a"),
        ("$.steps[2].type", "unknown_step_type", "c"),
        ("$.steps[3].channel", "invalid_value", "d"),
        ("$.steps[3].content", "missing_field", "d"),
        ("$.steps[5].at", "invalid_value", "f"),
        ("$.holdout_percent", "invalid_value", None),
        ("$.reentry.policy", "invalid_value", None),
    ]
    assert problems("not an object") == [("$", "invalid_type", None)]
    assert problems({"trigger": {"type": "manual"}, "steps": []}) == [("$.steps", "missing_field", None)]
