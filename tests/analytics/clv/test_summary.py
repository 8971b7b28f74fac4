"""Purchase summaries: the published CDNOW summary rebuilt from raw purchases, and the edge cases."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from siyu.analytics.clv import (
    CustomerSummary,
    InvalidClvInput,
    count_holdout_purchases,
    summarise_customers,
    summarise_purchases,
)
from analytics.clv.cdnow import CALIBRATION_END, HOLDOUT_END, NOW, UTC_ZONE

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW_SH = datetime(2025, 6, 30, 4, 0, tzinfo=ZoneInfo("UTC"))  # 12:00 on 30 June in Shanghai


def at(text: str) -> datetime:
    """Return a Shanghai wall-clock time as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def test_cdnow_raw_purchases_give_the_published_summary(cdnow, cdnow_ids, cdnow_purchases):
    summaries = summarise_customers(cdnow_purchases, CALIBRATION_END, now=NOW, tz=UTC_ZONE, time_unit="week")
    assert len(summaries) == 2357
    ours = [summaries[i] for i in cdnow_ids]
    np.testing.assert_array_equal([s.frequency for s in ours], cdnow.x)
    # The published values are rounded to two decimals.
    np.testing.assert_allclose([s.recency for s in ours], cdnow.t_x, atol=0.005 + 1e-9)
    np.testing.assert_allclose([s.age for s in ours], cdnow.t, atol=0.005 + 1e-9)
    np.testing.assert_allclose([s.monetary / 100 for s in ours], cdnow.zbar, atol=0.005 + 1e-9)


def test_example_customer_in_days_and_weeks():
    purchases = [(at("2025-01-01T10:00"), 5000), (at("2025-01-03T09:00"), 2000), (at("2025-01-15T20:00"), 4001)]
    in_days = summarise_purchases(purchases, date(2025, 1, 29), now=NOW_SH, tz=SHANGHAI, time_unit="day")
    assert in_days == CustomerSummary(frequency=2, recency=14.0, age=28.0, monetary=3000.5,
                                      first_day=date(2025, 1, 1), last_day=date(2025, 1, 15))
    in_weeks = summarise_purchases(purchases, date(2025, 1, 29), now=NOW_SH, tz=SHANGHAI, time_unit="week")
    assert (in_weeks.frequency, in_weeks.recency, in_weeks.age, in_weeks.monetary) == (2, 2.0, 4.0, 3000.5)
    # Two purchases in one week on different days are two occasions whatever the unit.
    assert in_weeks.frequency == in_days.frequency


def test_purchases_on_one_day_count_once_with_amounts_added():
    purchases = [(at("2025-02-01T09:00"), 100), (at("2025-02-03T08:00"), 300), (at("2025-02-03T22:30"), 200),
                 (at("2025-02-03T08:00"), 50)]
    summary = summarise_purchases(purchases, date(2025, 2, 10), now=NOW_SH, tz=SHANGHAI, time_unit="day")
    assert (summary.frequency, summary.recency, summary.monetary) == (1, 2.0, 550.0)
    only_first_day = summarise_purchases(purchases[:1] * 3, date(2025, 2, 10), now=NOW_SH, tz=SHANGHAI)
    assert (only_first_day.frequency, only_first_day.recency, only_first_day.monetary) == (0, 0.0, 0.0)


def test_days_are_cut_in_the_brand_time_zone():
    # 23:30 UTC on 1 March is 07:30 on 2 March in Shanghai: a different day from 10:00 UTC on 1 March.
    purchases = [(datetime(2025, 3, 1, 10, tzinfo=UTC_ZONE), 100), (datetime(2025, 3, 1, 23, 30, tzinfo=UTC_ZONE), 100)]
    shanghai = summarise_purchases(purchases, date(2025, 3, 5), now=NOW_SH, tz=SHANGHAI, time_unit="day")
    utc = summarise_purchases(purchases, date(2025, 3, 5), now=NOW_SH, tz=UTC_ZONE, time_unit="day")
    assert (shanghai.frequency, shanghai.recency, shanghai.age) == (1, 1.0, 4.0)
    assert (utc.frequency, utc.recency, utc.age) == (0, 0.0, 4.0)


def test_purchases_on_the_as_of_day_count_to_its_end():
    as_of = date(2025, 4, 30)
    purchases = [(at("2025-04-01T12:00"), 100), (at("2025-04-30T00:00"), 200), (at("2025-04-30T23:59:59.999999"), 300),
                 (at("2025-05-01T00:00"), 900)]
    summary = summarise_purchases(purchases, as_of, now=NOW_SH, tz=SHANGHAI, time_unit="day")
    assert (summary.frequency, summary.recency, summary.age, summary.monetary) == (1, 29.0, 29.0, 500.0)
    assert summary.recency == summary.age  # last purchase on the as-of day: t_x = T
    first_on_as_of = summarise_purchases(purchases[1:], as_of, now=NOW_SH, tz=SHANGHAI, time_unit="day")
    assert (first_on_as_of.frequency, first_on_as_of.age) == (0, 0.0)
    assert summarise_purchases(purchases[3:], as_of, now=NOW_SH, tz=SHANGHAI) is None


def test_as_of_today_is_allowed_and_tomorrow_refused():
    purchases = [(at("2025-06-01T12:00"), 100)]
    assert summarise_purchases(purchases, date(2025, 6, 30), now=NOW_SH, tz=SHANGHAI).age == pytest.approx(29 / 7)
    with pytest.raises(InvalidClvInput) as failure:
        summarise_purchases(purchases, date(2025, 7, 1), now=NOW_SH, tz=SHANGHAI)
    assert failure.value.code == "as_of_in_future" and failure.value.status == 422
    assert "2025-07-01 is in the future (today is 2025-06-30" in failure.value.message
    # 16:30 UTC on 30 June is already 1 July in Shanghai.
    late = NOW_SH + timedelta(hours=12, minutes=30)
    assert summarise_purchases(purchases, date(2025, 7, 1), now=late, tz=SHANGHAI).age == pytest.approx(30 / 7)


def test_decimal_fen_amounts_give_an_exact_mean():
    purchases = [(at("2025-01-01T10:00"), Decimal("1")), (at("2025-01-02T10:00"), Decimal("1")),
                 (at("2025-01-03T10:00"), Decimal("2"))]
    summary = summarise_purchases(purchases, date(2025, 1, 3), now=NOW_SH, tz=SHANGHAI, time_unit="day")
    assert summary.monetary == 1.5


@pytest.mark.parametrize(("purchase", "fragment"), [
    ((datetime(2025, 1, 2, 10), 100), "timezone-aware"),
    ((datetime(2025, 1, 2, 10, tzinfo=SHANGHAI), 1.5), "never float"),
    ((datetime(2025, 1, 2, 10, tzinfo=SHANGHAI), True), "never float"),
    ((datetime(2025, 1, 2, 10, tzinfo=SHANGHAI), -500), "leave refunds out"),
    ((datetime(2025, 1, 2, 10, tzinfo=SHANGHAI), Decimal("NaN")), "not a finite number"),
])
def test_bad_purchases_are_refused(purchase, fragment):
    with pytest.raises(InvalidClvInput) as failure:
        summarise_purchases([(at("2025-01-01T10:00"), 100), purchase], date(2025, 2, 1), now=NOW_SH, tz=SHANGHAI)
    assert fragment in failure.value.message


def test_unknown_time_unit_is_refused():
    with pytest.raises(InvalidClvInput) as failure:
        summarise_purchases([], date(2025, 2, 1), now=NOW_SH, tz=SHANGHAI, time_unit="month")
    assert failure.value.code == "invalid_time_unit"


def test_holdout_counts_occasions_after_the_calibration_end():
    purchases = [(at("2025-01-05T10:00"), 100), (at("2025-01-31T23:59"), 100), (at("2025-02-01T00:00"), 100),
                 (at("2025-02-01T18:00"), 100), (at("2025-02-14T12:00"), 100), (at("2025-03-01T00:00"), 100)]
    count = count_holdout_purchases(purchases, date(2025, 1, 31), date(2025, 2, 28), now=NOW_SH, tz=SHANGHAI)
    assert count == 2
    with pytest.raises(InvalidClvInput):
        count_holdout_purchases(purchases, date(2025, 1, 31), date(2025, 1, 31), now=NOW_SH, tz=SHANGHAI)
    with pytest.raises(InvalidClvInput) as failure:
        count_holdout_purchases(purchases, date(2025, 1, 31), date(2025, 7, 1), now=NOW_SH, tz=SHANGHAI)
    assert failure.value.code == "as_of_in_future"


def test_cdnow_holdout_counts(cdnow_purchases):
    counts = {i: count_holdout_purchases(p, CALIBRATION_END, HOLDOUT_END, now=NOW, tz=UTC_ZONE)
              for i, p in cdnow_purchases.items()}
    # Independent count: distinct purchase dates in weeks 40-78.
    expected = {i: len({a.date() for a, _ in p if CALIBRATION_END < a.date() <= HOLDOUT_END})
                for i, p in cdnow_purchases.items()}
    assert counts == expected and sum(counts.values()) > 0
