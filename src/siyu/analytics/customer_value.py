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
    GammaGammaParams,
    InvalidClvInput,
    TimeUnit,
    collapse_identical_rows,
    fit_bgnbd,
    fit_gamma_gamma,
)
from siyu.analytics.clv.summary import unit_days
from siyu.analytics.engines import Facts
from siyu.analytics.purchases import paid_orders

__all__ = ["ClvFit", "InvalidClvInput", "fit", "summaries"]

DAY = 86_400


def summaries(facts: Facts, as_of: date, tz: ZoneInfo, time_unit: TimeUnit = "week") -> ibis.Table:
    """Return customer_id, frequency, recency, age (in the time unit) and monetary (fen) of every buyer."""
    scale = unit_days(time_unit)
    end_local = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=tz)
    offset, end_s = int(end_local.utcoffset().total_seconds()), int(end_local.timestamp())  # type: ignore[union-attr]
    as_of_day = (end_s + offset) // DAY - 1
    paid = paid_orders(facts, end_s)
    rows = paid.select("customer_id", "net", day=(paid.paid_s + offset) // DAY)
    days = rows.filter(rows.net > 0).group_by("customer_id", "day").aggregate(value=_.net.sum())
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


def fit(facts: Facts, as_of: date, tz: ZoneInfo, time_unit: TimeUnit = "week") -> ClvFit:
    """Fit the BG/NBD and Gamma-Gamma models on every buyer's summary as of ``as_of``."""
    table = summaries(facts, as_of, tz, time_unit).select("frequency", "recency", "age", "monetary").to_pyarrow()
    x, t_x, t, m = (np.asarray(table.column(c).to_numpy(), dtype=float) for c in ("frequency", "recency", "age",
                                                                                     "monetary"))
    (dx, dt_x, dt), weights = collapse_identical_rows(x, t_x, t)
    bgnbd = fit_bgnbd(dx, dt_x, dt, weights)
    (gx, gm), gweights = collapse_identical_rows(x[x > 0], m[x > 0])
    spend = fit_gamma_gamma(gx, gm, gweights)
    return ClvFit(as_of, time_unit, facts.engine, int(x.size), int((x > 0).sum()), int(dx.size), bgnbd, spend)
