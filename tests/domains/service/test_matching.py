"""Keyword rules: each match type, normalisation, priority, menus and the regex guard."""

from __future__ import annotations

import time

import pytest

from siyu.domains.service.matching import Matcher, RuleSpec, check_regex, check_rule, menu_text, option_for
from siyu.errors import SiyuError

RULES = [
    RuleSpec(1, "退货", "contains", ("退货", "退款"), "退货请点订单页", priority=1),
    RuleSpec(2, "VIP", "exact", ("ＶＩＰ会员",), "会员权益见小程序", priority=5),
    RuleSpec(3, "流程", "fuzzy", ("退货流程",), "流程：申请→寄回→退款", priority=3),
    RuleSpec(4, "订单号", "regex", (r"订单号?\s*[0-9]{6,}",), "正在查询订单", priority=2),
    RuleSpec(5, "菜单", "exact", ("人工",), "请选择：", priority=0,
             options=({"key": "1", "label": "物流", "reply": "物流请看订单页"},
                      {"key": "2", "label": "发票", "reply": "发票在订单完成后申请"})),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(RULES)


def test_exact_matches_after_nfkc_and_case_folding(matcher: Matcher) -> None:
    assert [h.rule.id for h in matcher.candidates(" vip会员 ")] == [2]
    assert matcher.candidates("vip会员呢") == []


def test_contains_finds_every_keyword_rule_in_one_scan(matcher: Matcher) -> None:
    hit = matcher.best("我想退款可以吗")
    assert (hit.rule.id, hit.pattern, hit.reason) == (1, "退款", "text contains '退款'")


def test_fuzzy_accepts_one_insertion_and_refuses_a_changed_word(matcher: Matcher) -> None:
    near = [h for h in matcher.candidates("退货的流程") if h.rule.id == 3]
    assert len(near) == 1 and near[0].score == pytest.approx(88.888, abs=0.01)
    assert [h.rule.id for h in matcher.candidates("换货流程")] == []  # 75 < 80


def test_regex_matches_and_reports_position(matcher: Matcher) -> None:
    hit = matcher.best("查一下 订单 12345678")
    assert hit.rule.id == 4 and hit.reason == "text matches /订单号?\\s*[0-9]{6,}/ at 4: '订单 12345678'"
    assert matcher.best("订单 123") is None


def test_highest_priority_wins_ties_to_oldest() -> None:
    rules = [RuleSpec(7, "b", "contains", ("发货",), "b", priority=1),
             RuleSpec(3, "a", "contains", ("发货",), "a", priority=1),
             RuleSpec(9, "c", "contains", ("什么时候",), "c", priority=4)]
    assert [h.rule.id for h in Matcher(rules).candidates("什么时候发货")] == [9, 3, 7]


def test_menu_lists_options_and_chooses_by_key() -> None:
    menu = RULES[4]
    assert menu_text(menu) == "请选择：\n1. 物流\n2. 发票"
    assert option_for(menu, " １ ")["reply"] == "物流请看订单页"
    assert option_for(menu, "3") is None


def test_invalid_regex_is_refused_with_its_position() -> None:
    with pytest.raises(SiyuError) as info:
        check_rule("regex", ["ok", "订单(\\d+"], None, [])
    assert (info.value.code, info.value.status, info.value.details) == ("invalid_regex", 422,
                                                                        {"pattern": 1, "position": 2})
    assert info.value.message == "pattern 1 is not a valid regular expression: missing ), unterminated subpattern at position 2"


@pytest.mark.parametrize("pattern", ["(a+)+$", "(\\d*)*x", "([a-z]+)*@", "(x{2,})+"])
def test_nested_quantifiers_are_refused(pattern: str) -> None:
    with pytest.raises(SiyuError) as info:
        check_regex(pattern)
    assert info.value.code == "unsafe_regex" and info.value.details["position"] == 0


def test_a_catastrophic_pattern_that_slips_through_times_out() -> None:
    # Alternation with overlap backtracks exponentially without nesting a quantifier in a group's body.
    rule = RuleSpec(1, "slow", "regex", ("^(a|a)*$",), "never")
    check_regex("^(a|a)*$")  # not caught by the save-time check …
    start = time.perf_counter()
    assert Matcher([rule]).best("a" * 40 + "b") is None  # … but the search is cut off
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(("args", "code"), [
    (("nope", ["x"], None, []), "invalid_match_type"),
    (("exact", ["  "], None, []), "invalid_patterns"),
    (("exact", ["x"], 90, []), "invalid_threshold"),
    (("fuzzy", ["x"], 30, []), "invalid_threshold"),
    (("exact", ["x"], None, [{"key": "1", "label": "a", "reply": "b"}, {"key": "1", "label": "c", "reply": "d"}]),
     "invalid_menu"),
])
def test_bad_rules_are_refused(args: tuple, code: str) -> None:
    with pytest.raises(SiyuError) as info:
        check_rule(*args)
    assert info.value.code == code and info.value.status == 422
