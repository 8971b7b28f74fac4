"""The policy matrix: caps × quiet hours × consent × category, each with its exact outcome and reason."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from siyu.domains.outbox.policy import (
    BatchFacts,
    CapRule,
    Decision,
    Delivered,
    Due,
    Policy,
    QuietHours,
    decide,
    mass_limit,
    period_bounds,
    quiet_until,
)
from siyu.domains.outbox.service import unsubscribe_keyword
from siyu.kit.time import UTC

TZ = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # Tue 12:00 Shanghai
LATE = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # Tue 23:00 Shanghai
NEXT_8AM = datetime(2026, 3, 11, 0, 0, tzinfo=UTC)  # Wed 08:00 Shanghai
NEXT_MIDNIGHT = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # Wed 00:00 Shanghai
NEXT_MONDAY = datetime(2026, 3, 15, 16, 0, tzinfo=UTC)  # Mon 16 March 00:00 Shanghai
C = 7


def _facts(sent_today: int, consent: str) -> BatchFacts:
    facts = BatchFacts(tz=TZ)
    facts.delivered = [Delivered(C, "wecom", NOON - timedelta(hours=1, minutes=i), None) for i in range(sent_today)]
    if consent == "withdrawn":
        facts.withdrawn.add((C, "wecom"))
    elif consent == "withdrawn_all":
        facts.withdrawn.add((C, "all"))
    elif consent == "unsubscribed":
        facts.opt_outs.add((C, "wecom", "marketing"))
    elif consent == "do_not_contact":
        facts.opt_outs.add((C, "*", "all"))
    return facts


def _expected(category: str, sent_today: int, late: bool, consent: str, over_cap: str) -> Decision:
    if consent == "do_not_contact":
        return Decision("suppress", "do_not_contact")
    if category == "transactional":
        return Decision("send")
    if consent == "unsubscribed":
        return Decision("suppress", "unsubscribed")
    if consent in ("withdrawn", "withdrawn_all"):
        return Decision("suppress", "consent_withdrawn")
    if late:
        return Decision("defer", "quiet_hours", NEXT_8AM)
    if sent_today >= 2:
        return Decision("drop", "cap_customer_day") if over_cap == "drop" else \
            Decision("defer", "cap_customer_day", NEXT_MIDNIGHT)
    return Decision("send")


@pytest.mark.parametrize("over_cap", ["defer", "drop"])
@pytest.mark.parametrize("consent", ["none", "withdrawn", "withdrawn_all", "unsubscribed", "do_not_contact"])
@pytest.mark.parametrize("late", [False, True], ids=["noon", "23h"])
@pytest.mark.parametrize("sent_today", [0, 1, 2, 3])
@pytest.mark.parametrize("category", ["marketing", "transactional"])
def test_matrix(category: str, sent_today: int, late: bool, consent: str, over_cap: str) -> None:
    policy = Policy(caps=[CapRule(period="day", limit=2)], over_cap=over_cap)
    now = LATE if late else NOON
    facts = _facts(sent_today, consent)
    got = decide(Due(1, "wecom", category, C, None), policy, facts, now)
    assert got == _expected(category, sent_today, late, consent, over_cap)


def test_a_send_counts_against_the_next_message_of_the_batch() -> None:
    policy, facts = Policy(caps=[CapRule(period="day", limit=1)]), BatchFacts(tz=TZ)
    assert decide(Due(1, "wecom", "marketing", C, None), policy, facts, NOON) == Decision("send")
    assert decide(Due(2, "sms", "marketing", C, None), policy, facts, NOON) == \
        Decision("defer", "cap_customer_day", NEXT_MIDNIGHT)
    assert decide(Due(3, "sms", "marketing", C + 1, None), policy, facts, NOON) == Decision("send")


def test_channel_caps_and_week_caps() -> None:
    policy = Policy(caps=[CapRule(period="week", limit=2, channel="sms")])
    facts = BatchFacts(tz=TZ, delivered=[Delivered(C, "sms", NOON - timedelta(days=1), None),
                                         Delivered(C, "sms", NOON - timedelta(days=2), None)])  # Mon, Sun(last week)
    assert decide(Due(1, "sms", "marketing", C, None), policy, facts, NOON) == Decision("send")
    assert decide(Due(2, "sms", "marketing", C, None), policy, facts, NOON) == \
        Decision("defer", "cap_customer_week", NEXT_MONDAY)
    assert decide(Due(3, "wecom", "marketing", C, None), policy, facts, NOON) == Decision("send")  # other channel


def test_global_cap() -> None:
    policy = Policy(caps=[CapRule(scope="global", period="day", limit=2)], over_cap="drop")
    facts = BatchFacts(tz=TZ)
    facts.global_counts[("*", "day")] = 1
    assert decide(Due(1, "wecom", "marketing", 1, None), policy, facts, NOON) == Decision("send")
    assert decide(Due(2, "wecom", "marketing", 2, None), policy, facts, NOON) == Decision("drop", "cap_global_day")


@pytest.mark.parametrize(("rule", "period", "limit"), [("month_days", "month", 31), ("week_7", "week", 7),
                                                        ("day_1", "day", 1)])
def test_wecom_mass_limit(rule: str, period: str, limit: int) -> None:
    assert mass_limit(rule, NOON, TZ) == (period, limit)
    assert mass_limit("month_days", datetime(2026, 2, 10, tzinfo=UTC), TZ) == ("month", 28)
    policy = Policy(caps=[], wecom_mass_limit=rule)  # type: ignore[arg-type]
    facts = BatchFacts(tz=TZ, delivered=[Delivered(C, "wecom", NOON - timedelta(minutes=i + 1), 100 + i)
                                         for i in range(limit)])
    assert decide(Due(1, "wecom", "marketing", C, 100), policy, facts, NOON) == Decision("send")  # same task again
    got = decide(Due(2, "wecom", "marketing", C, 999), policy, facts, NOON)
    assert (got.action, got.reason, got.until) == ("defer", "wecom_mass_limit", period_bounds(NOON, period, TZ)[1])


def test_quiet_hours_in_the_customers_zone() -> None:
    facts = BatchFacts(tz=TZ, zones={C: ZoneInfo("Europe/Berlin")})
    policy = Policy(caps=[])
    assert decide(Due(1, "wecom", "marketing", C, None), policy, facts, LATE) == Decision("send")  # 16:00 Berlin
    early = datetime(2026, 3, 10, 5, 30, tzinfo=UTC)  # 06:30 Berlin (CET)
    assert decide(Due(1, "wecom", "marketing", C, None), policy, facts, early) == \
        Decision("defer", "quiet_hours", datetime(2026, 3, 10, 7, 0, tzinfo=UTC))


def test_quiet_hours_windows() -> None:
    day_window = QuietHours(start=time(12, 0), end=time(14, 0))
    assert quiet_until(NOON, day_window, TZ) == datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    assert quiet_until(NOON - timedelta(minutes=1), day_window, TZ) is None
    assert quiet_until(NEXT_MIDNIGHT, QuietHours(), TZ) == NEXT_8AM  # 00:00 is inside 22-08
    assert quiet_until(NEXT_8AM, QuietHours(), TZ) is None
    assert quiet_until(LATE, QuietHours(enabled=False), TZ) is None


@pytest.mark.parametrize(("text", "keyword"), [("退订", "退订"), (" TD ", "td"), ("td。", "td"), ("Unsubscribe!", "unsubscribe"),
                                               ("STOP", "stop"), ("取消订阅", "取消订阅"), ("t", "t"),
                                               ("我不想退订", None), ("TD了吗", None), ("", None), ("好的", None)])
def test_unsubscribe_keywords(text: str, keyword: str | None) -> None:
    assert unsubscribe_keyword(text) == keyword
