"""Bad rules are refused with the path of each bad node, a stable code and what is expected there."""

from __future__ import annotations

from typing import Any

import pytest

from siyu.domains.segments import rules
from siyu.domains.segments.rules import InvalidRule

BAD: list[tuple[Any, str, str]] = [
    ([], "$", "invalid_type"),
    ({}, "$", "invalid_condition"),
    ({"all": [], "any": []}, "$", "invalid_condition"),
    ({"all": []}, "$.all", "invalid_value"),
    ({"all": [{"attribute": "city", "op": "eq"}]}, "$.all[0].value", "missing_field"),
    ({"any": [{"tag": "VIP"}, {"attribute": "shoe_size", "op": "eq", "value": 1}]}, "$.any[1].attribute",
     "unknown_attribute"),
    ({"attribute": "city", "op": "like", "value": "x"}, "$.op", "unknown_operator"),
    ({"attribute": "city", "op": "is_set", "value": "x"}, "$.value", "unexpected_value"),
    ({"attribute": "city", "op": "in", "value": []}, "$.value", "invalid_value"),
    ({"attribute": "age", "op": "gte", "value": 30.5}, "$.value", "invalid_value"),
    ({"attribute": "age", "op": "between", "value": [40, 30]}, "$.value", "invalid_value"),
    ({"attribute": "birthday", "op": "after", "value": "2026-02-30"}, "$.value", "invalid_value"),
    ({"attribute": "first_seen_at", "op": "anniversary_within_days", "value": 3}, "$.op", "unknown_operator"),
    ({"attribute": "attributes.bad-key", "op": "eq", "value": 1}, "$.attribute", "invalid_value"),
    ({"tag": "VIP", "colour": "red"}, "$.colour", "unknown_field"),
    ({"tag": "VIP", "added_within_days": 3, "held_for_days": 5}, "$", "invalid_condition"),
    ({"identity": "open*id"}, "$.identity", "invalid_value"),
    ({"owner": []}, "$.owner", "invalid_value"),
    ({"channel_code": ["a"]}, "$.channel_code[0]", "invalid_value"),
    ({"event": "Content Viewed"}, "$.event", "invalid_value"),
    ({"event": "content_viewed", "op": "did_twice"}, "$.op", "unknown_operator"),
    ({"event": "content_viewed", "count": {"op": "gte", "value": -1}}, "$.count.value", "invalid_value"),
    ({"event": "content_viewed", "op": "did_not", "count": {"op": "gte", "value": 1}}, "$.count", "unexpected_value"),
    ({"event": "content_viewed", "window": {"last_days": 0}}, "$.window.last_days", "invalid_value"),
    ({"event": "content_viewed", "window": {"last_days": 3, "since": "2026-01-01"}}, "$.window", "invalid_value"),
    ({"event": "content_viewed", "window": {"between": ["2026-03-01", "2026-02-01"]}}, "$.window.between",
     "invalid_value"),
    ({"event": "content_viewed", "where": [{"property": "topic", "op": "near", "value": "x"}]}, "$.where[0].op",
     "unknown_operator"),
    ({"event": "content_viewed", "where": [{"property": "a.b", "op": "eq", "value": "x"}]}, "$.where[0].property",
     "invalid_value"),
    ({"order": "profit", "op": "gte", "value": 1}, "$.order", "unknown_metric"),
    ({"order": "total", "op": "gte", "value": "9.999"}, "$.value", "invalid_value"),
    ({"order": "last_at", "op": "in_last_days", "value": 7, "window": {"last_days": 3}}, "$.window", "unexpected_value"),
    ({"order": "product", "op": "eq", "value": "T001"}, "$.op", "unknown_operator"),
    ({"score": "iq", "op": "gt", "value": 100}, "$.score", "unknown_score"),
    ({"score": "rfm_segment", "op": "contains", "value": "value"}, "$.op", "unknown_operator"),
    ({"score": "p_alive", "op": "gt", "value": "high"}, "$.value", "invalid_value"),
    ({"segment": "vip"}, "$.segment", "invalid_value"),
    ({"not": [{"tag": "VIP"}]}, "$.not", "invalid_type"),
]


@pytest.mark.parametrize(("raw", "path", "code"), BAD, ids=[f"{p}:{c}:{i}" for i, (_r, p, c) in enumerate(BAD)])
def test_bad_rules_name_the_node(raw: Any, path: str, code: str) -> None:
    with pytest.raises(InvalidRule) as info:
        rules.parse(raw)
    first = info.value.details["errors"][0]
    assert (first["path"], first["code"]) == (path, code)
    assert info.value.code == "invalid_rule" and info.value.status == 422
    assert info.value.message.startswith(f"{path}: ")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidRule) as info:
        rules.parse({"all": [{"attribute": "nope", "op": "eq", "value": 1}, {"tag": ""},
                             {"event": "content_viewed", "window": {"last_days": -2}}]})
    assert [e["path"] for e in info.value.details["errors"]] == ["$.all[0].attribute", "$.all[1].tag",
                                                                 "$.all[2].window.last_days"]
    assert "(and 2 more)" in info.value.message


def test_limits_on_size_and_depth() -> None:
    deep: dict[str, Any] = {"tag": "VIP"}
    for _ in range(rules.MAX_DEPTH):
        deep = {"not": deep}
    with pytest.raises(InvalidRule) as info:
        rules.parse(deep)
    assert info.value.details["errors"][0]["code"] == "too_deep"
    with pytest.raises(InvalidRule) as info:
        rules.parse({"any": [{"tag": "VIP"}] * (rules.MAX_NODES + 1)})
    assert info.value.details["errors"][0]["code"] == "too_many_nodes"


def test_references_and_relative_rules() -> None:
    node = rules.parse({"all": [{"segment": 3}, {"tag": "VIP"}, {"owner": ["s1"]},
                                {"not": {"event": "content_viewed", "window": {"since": "2026-01-01"}}}]})
    assert (rules.segment_refs(node), rules.tag_refs(node), rules.staff_refs(node)) == ({3}, {"VIP"}, {"s1"})
    assert not rules.is_relative(node)
    assert rules.is_relative(rules.parse({"attribute": "birthday", "op": "anniversary_within_days", "value": 7}))
    assert rules.is_relative(rules.parse({"order": "count", "op": "gte", "value": 1, "window": {"last_days": 30}}))
