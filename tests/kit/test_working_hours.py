"""The shared working-hours format: its check, is-working-at and the arithmetic, in the brand's zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from siyu.errors import ValidationFailed
from siyu.kit.time import UTC
from siyu.kit.working_hours import add_working, check_working_hours, is_working, working_seconds

SH = ZoneInfo("Asia/Shanghai")
HOURS = {"mon": [["13:00", "18:00"], ["09:00", "12:00"]], "tue": [["09:00", "24:00"]]}


def test_check_sorts_intervals_and_orders_days() -> None:
    assert check_working_hours({"tue": [["09:00", "24:00"]], "mon": [["13:00", "18:00"], ["09:00", "12:00"]]}) == {
        "mon": [["09:00", "12:00"], ["13:00", "18:00"]], "tue": [["09:00", "24:00"]]}
    assert check_working_hours(None) == {}


@pytest.mark.parametrize("bad", [{"xyz": []}, {"mon": [["18:00", "09:00"]]}, {"mon": [["09:00", "12:00"],
                                                                                      ["11:00", "13:00"]]},
                                 {"mon": [["24:00", "24:00"]]}, {"mon": "09:00-18:00"}, ["mon"]])
def test_check_refuses_bad_hours(bad: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        check_working_hours(bad)  # type: ignore[arg-type]
    assert exc.value.code == "invalid_working_hours"


def test_is_working_reads_the_local_day_and_clock() -> None:
    hours = check_working_hours(HOURS)
    monday_0930_sh = datetime(2026, 3, 9, 1, 30, tzinfo=UTC)
    assert is_working(hours, monday_0930_sh, SH)
    assert not is_working(hours, monday_0930_sh + timedelta(hours=3), SH)  # 12:30, lunch
    assert is_working(hours, datetime(2026, 3, 10, 15, 59, tzinfo=UTC), SH)  # Tuesday 23:59 in Shanghai
    assert not is_working(hours, datetime(2026, 3, 10, 16, 1, tzinfo=UTC), SH)  # Wednesday 00:01: closed
    assert is_working({}, monday_0930_sh, SH)


def test_working_seconds_and_add_working_agree_across_lunch_and_days() -> None:
    hours = check_working_hours(HOURS)
    start = datetime(2026, 3, 9, 3, 30, tzinfo=UTC)  # Monday 11:30 in Shanghai
    due = add_working(hours, start, 60 * 60, SH)  # 30 minutes before lunch, 30 after
    assert due.astimezone(SH).strftime("%a %H:%M") == "Mon 13:30"
    assert working_seconds(hours, start, due, SH) == 3600
    late = add_working(hours, start, 8 * 3600, SH)  # 0.5 h Monday morning + 5 h afternoon, 2.5 h Tuesday
    assert late.astimezone(SH).strftime("%a %H:%M") == "Tue 11:30"
    with pytest.raises(ValueError):
        add_working({"mon": []}, start, 60, SH)
