"""CLV on the engine: the per-customer BG/NBD inputs computed where the facts are, then fitted.

The summary follows :mod:`siyu.analytics.clv.summary` exactly (its plain Python is the reference the
tests compare with): a purchase occasion is a brand-local day with at least one paid order, each order
at its value net of the refunds known by the end of the as-of day (a fully refunded order is not a
purchase); frequency = occasions after the first, recency and age from the first occasion to the last
and to the as-of day, monetary = mean value of the repeat occasions (fen). Only facts up to the as-of
day count, so a fit "as of" a past day uses nothing that happened later. Brand days are cut with the
zone's offset on the as-of day (exact without daylight saving, as in Asia/Shanghai).

The engine returns one row per customer; the fit runs in numpy/scipy on the distinct rows
(:func:`siyu.analytics.clv.collapse_identical_rows`), which a million customers shrink to far fewer.
:func:`customer_values` adds every buyer's predictions under that fit, and :func:`holdout` checks a fit
on a calibration period against the purchases of the holdout that follows (docs/clv.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import ibis
import numpy as np
from ibis import _

from siyu.analytics.clv import (
    BgNbdParams,
    CalibrationReport,
    GammaGammaParams,
    InvalidClvInput,
    TimeUnit,
    ValueArrays,
    calibration_report,
    collapse_identical_rows,
    fit_bgnbd,
    fit_gamma_gamma,
    value_arrays,
)
from siyu.analytics.clv.summary import unit_days
from siyu.analytics.clv.value import DEFAULT_ANNUAL_DISCOUNT_RATE, DEFAULT_MONTHS
from siyu.analytics.engines import Facts
from siyu.analytics.purchases import paid_orders

__all__ = ["ClvFit", "CustomerValues", "InvalidClvInput", "customer_values", "fit", "fit_arrays", "holdout", "summaries"]

DAY = 86_400


def day_cut(as_of: date, tz: ZoneInfo) -> tuple[int, int, int]:
    """Return (zone offset s, end of the as-of day as epoch s, the as-of day as a day number since the epoch)."""
    end_local = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=tz)
    offset, end_s = int(end_local.utcoffset().total_seconds()), int(end_local.timestamp())  # type: ignore[union-attr]
    return offset, end_s, (end_s + offset) // DAY - 1


def purchase_days(facts: Facts, as_of: date, tz: ZoneInfo) -> ibis.Table:
    """Return (customer_id, day, value): each purchase occasion up to the as-of day with its net value (fen)."""
    offset, end_s, _day = day_cut(as_of, tz)
    paid = paid_orders(facts, end_s)
    rows = paid.select("customer_id", "net", day=(paid.paid_s + offset) // DAY)
    return rows.filter(rows.net > 0).group_by("customer_id", "day").aggregate(value=_.net.sum())


def summaries(facts: Facts, as_of: date, tz: ZoneInfo, time_unit: TimeUnit = "week") -> ibis.Table:
    """Return customer_id, frequency, recency, age (in the time unit) and monetary (fen) of every buyer."""
    scale = unit_days(time_unit)
    as_of_day = day_cut(as_of, tz)[2]
    days = purchase_days(facts, as_of, tz)
    firsts = days.group_by("customer_id").aggregate(first_day=_.day.min())
    tagged = days.inner_join(firsts, "customer_id")
    per = tagged.group_by("customer_id").aggregate(
        occasions=_.count(), first_day=_.first_day.max(), last_day=_.day.max(),
        repeat_value=(tagged.day != tagged.first_day).ifelse(tagged.value, 0).sum())
    frequency = per.occasions - 1
    return per.select(
        "customer_id", frequency=frequency,
        recency=(per.last_day - per.first_day).cast("float64") / scale,
        age=(ibis.literal(as_of_day) - per.first_day).cast("float64") / scale,
        monetary=(frequency > 0).ifelse(per.repeat_value.cast("float64") / frequency.cast("float64"), 0.0))


@dataclass(frozen=True)
class ClvFit:
    """The fitted models as of a day and what they were fitted on."""

    as_of: date
    time_unit: TimeUnit
    engine: str
    customers: int
    repeat_buyers: int
    distinct_rows: int
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams


def fit_arrays(x: np.ndarray, t_x: np.ndarray, t: np.ndarray, m: np.ndarray) -> tuple[BgNbdParams, GammaGammaParams, int]:
    """Fit both models on per-customer summaries; return them and the number of distinct (x, t_x, T) rows."""
    (dx, dt_x, dt), weights = collapse_identical_rows(x, t_x, t)
    bgnbd = fit_bgnbd(dx, dt_x, dt, weights)
    (gx, gm), gweights = collapse_identical_rows(x[x > 0], m[x > 0])
    return bgnbd, fit_gamma_gamma(gx, gm, gweights), int(dx.size)


def _arrays(table: ibis.Table, columns: tuple[str, ...]) -> list[np.ndarray]:
    data = table.select(*columns).to_pyarrow()
    return [np.asarray(data.column(c).to_numpy(), dtype=np.int64 if c == "customer_id" else float) for c in columns]


def fit(facts: Facts, as_of: date, tz: ZoneInfo, time_unit: TimeUnit = "week") -> ClvFit:
    """Fit the BG/NBD and Gamma-Gamma models on every buyer's summary as of ``as_of``."""
    x, t_x, t, m = _arrays(summaries(facts, as_of, tz, time_unit), ("frequency", "recency", "age", "monetary"))
    bgnbd, spend, distinct = fit_arrays(x, t_x, t, m)
    return ClvFit(as_of, time_unit, facts.engine, int(x.size), int((x > 0).sum()), distinct, bgnbd, spend)


@dataclass(frozen=True)
class CustomerValues:
    """Every buyer's summary and predictions under one fit, as arrays in customer id order (money in fen)."""

    fit: ClvFit
    months: int
    annual_discount_rate: float
    customer_id: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    age: np.ndarray
    monetary: np.ndarray
    values: ValueArrays


def customer_values(facts: Facts, as_of: date, tz: ZoneInfo, time_unit: TimeUnit = "week", *,
                    months: int = DEFAULT_MONTHS,
                    annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE) -> CustomerValues:
    """Fit as of ``as_of`` and return each buyer's expected purchases, P(alive), expected spend and CLV."""
    ids, x, t_x, t, m = _arrays(summaries(facts, as_of, tz, time_unit).order_by("customer_id"),
                                ("customer_id", "frequency", "recency", "age", "monetary"))
    bgnbd, spend, distinct = fit_arrays(x, t_x, t, m)
    fitted = ClvFit(as_of, time_unit, facts.engine, int(x.size), int((x > 0).sum()), distinct, bgnbd, spend)
    values = value_arrays(bgnbd, spend, x, t_x, t, m, time_unit=time_unit, months=months,
                          annual_discount_rate=annual_discount_rate)
    return CustomerValues(fitted, months, annual_discount_rate, ids, x, t_x, t, m, values)


def holdout(facts: Facts, calibration_end: date, holdout_end: date, tz: ZoneInfo,
            time_unit: TimeUnit = "week") -> tuple[ClvFit, CalibrationReport]:
    """Fit on facts up to ``calibration_end`` and compare predicted with actual purchases up to ``holdout_end``.

    Holdout purchases are occasions (brand days with a paid order net of the refunds known by the end of
    the holdout) after the calibration end, of the customers who had bought by it.
    """
    if holdout_end <= calibration_end:
        raise InvalidClvInput(f"the holdout must end after the calibration period ({holdout_end} ≤ {calibration_end})")
    cal = summaries(facts, calibration_end, tz, time_unit)
    later = purchase_days(facts, holdout_end, tz)
    cal_day = day_cut(calibration_end, tz)[2]
    counts = (later.filter(later.day > cal_day).group_by("customer_id").aggregate(n=_.count())
              .rename(k="customer_id"))
    joined = cal.left_join(counts, cal.customer_id == counts.k).drop("k")
    x, t_x, t, m, n = _arrays(joined.mutate(n=joined.n.fill_null(0)),
                              ("frequency", "recency", "age", "monetary", "n"))
    bgnbd, spend, distinct = fit_arrays(x, t_x, t, m)
    fitted = ClvFit(calibration_end, time_unit, facts.engine, int(x.size), int((x > 0).sum()), distinct, bgnbd, spend)
    length = (holdout_end - calibration_end).days / unit_days(time_unit)
    return fitted, calibration_report(bgnbd, x, t_x, t, n, holdout_length=length, time_unit=time_unit)
