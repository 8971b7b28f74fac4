"""Per-customer model inputs (x, t_x, T, monetary) from purchase times and amounts, as of a date.

This is the plainly written reference for the analytical engine's version of the same summary.
Definitions, as in the CDNOW data set Fader, Hardie & Lee (2005) published:

- A **purchase occasion** is a calendar day, in the brand's time zone, with at least one purchase.
  Several purchases on one day count once, their amounts added: a basket split into orders, or an
  order placed again after a payment failed, is one decision to buy. Days are used whatever the
  time unit, because the BG/NBD is a continuous-time model: the unit only sets the scale of t_x, T
  and α. Counting once per week as well would merge distinct occasions and lose recency.
- Only occasions on or before the as-of day (included, to its end) count; the first one is the
  customer's **birth**: it is not a repeat purchase.
- **frequency** x: the number of occasions after the first (repeat purchases).
- **recency** t_x: time from the first occasion to the last, 0 when x = 0.
- **age** T: time from the first occasion to the as-of day.
- **monetary**: the mean value of the repeat occasions in fen (the first is left out, as its value
  often differs: welcome offers, a first-order coupon); 0 when x = 0. A float, since it is a model
  input; money stays int or Decimal up to here.
- Times are in whole days (day) or days / 7 (week).

The caller decides what a purchase is: pass paid orders with refunds already taken out (a fully
refunded order left out, a partly refunded one at its net amount). A negative amount is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from siyu.analytics.clv.errors import InvalidClvInput
from siyu.kit.time import local_day

TimeUnit = Literal["day", "week"]
UNIT_DAYS: dict[str, int] = {"day": 1, "week": 7}

Amount = int | Decimal
Purchase = tuple[datetime, Amount]
Key = TypeVar("Key")


@dataclass(frozen=True)
class CustomerSummary:
    """One customer's model inputs as of a day; times in the summary's time unit."""

    frequency: int
    recency: float
    age: float
    monetary: float
    first_day: date
    last_day: date


def unit_days(time_unit: str) -> int:
    """Return the number of days in a time unit, refusing units other than day and week."""
    if time_unit not in UNIT_DAYS:
        raise InvalidClvInput(f"time unit {time_unit!r} is not supported: use day or week", code="invalid_time_unit")
    return UNIT_DAYS[time_unit]


def check_as_of(as_of: date, now: datetime, tz: ZoneInfo) -> None:
    """Refuse an as-of day later than today in the brand's time zone (today itself is allowed)."""
    if now.tzinfo is None:
        raise InvalidClvInput("now must be a timezone-aware time")
    today = local_day(now, tz)
    if as_of > today:
        raise InvalidClvInput(f"as-of date {as_of} is in the future (today is {today} in the brand's time zone)",
                              code="as_of_in_future")


def _amount(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise InvalidClvInput(f"purchase amount {value!r} must be fen as int or Decimal, never float")
    amount = Decimal(value)
    if not amount.is_finite():
        raise InvalidClvInput(f"purchase amount {value!r} is not a finite number")
    if amount < 0:
        raise InvalidClvInput(f"purchase amount {value!r} is negative: leave refunds out of purchases")
    return amount


def purchase_days(purchases: Iterable[Purchase], tz: ZoneInfo) -> dict[date, Decimal]:
    """Return each purchase occasion (brand-local day) with the total amount bought that day, in fen."""
    days: dict[date, Decimal] = {}
    for at, amount in purchases:
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise InvalidClvInput(f"purchase time {at!r} must be a timezone-aware datetime")
        day = local_day(at, tz)
        days[day] = days.get(day, Decimal(0)) + _amount(amount)
    return days


def summarise_purchases(purchases: Iterable[Purchase], as_of: date, *, now: datetime, tz: ZoneInfo,
                        time_unit: TimeUnit = "week") -> CustomerSummary | None:
    """Return one customer's summary as of the end of ``as_of``, or None if they had not bought by then."""
    check_as_of(as_of, now, tz)
    scale = unit_days(time_unit)
    occasions = {day: amount for day, amount in purchase_days(purchases, tz).items() if day <= as_of}
    if not occasions:
        return None
    days = sorted(occasions)
    first, last, repeats = days[0], days[-1], days[1:]
    monetary = float(sum((occasions[day] for day in repeats), Decimal(0)) / len(repeats)) if repeats else 0.0
    return CustomerSummary(frequency=len(repeats), recency=(last - first).days / scale,
                           age=(as_of - first).days / scale, monetary=monetary, first_day=first, last_day=last)


def summarise_customers(purchases_by_customer: Mapping[Key, Iterable[Purchase]], as_of: date, *, now: datetime,
                        tz: ZoneInfo, time_unit: TimeUnit = "week") -> dict[Key, CustomerSummary]:
    """Return the summary of every customer who had bought by the end of ``as_of``."""
    summaries = {}
    for key, purchases in purchases_by_customer.items():
        summary = summarise_purchases(purchases, as_of, now=now, tz=tz, time_unit=time_unit)
        if summary is not None:
            summaries[key] = summary
    return summaries


def count_holdout_purchases(purchases: Iterable[Purchase], calibration_end: date, holdout_end: date, *,
                            now: datetime, tz: ZoneInfo) -> int:
    """Return the purchase occasions after ``calibration_end`` up to the end of ``holdout_end``."""
    check_as_of(holdout_end, now, tz)
    if holdout_end <= calibration_end:
        raise InvalidClvInput(f"the holdout must end after the calibration period "
                              f"({holdout_end} ≤ {calibration_end})")
    return sum(1 for day in purchase_days(purchases, tz) if calibration_end < day <= holdout_end)
