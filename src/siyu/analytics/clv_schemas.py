"""API shapes of CLV per customer, the calibration/holdout report and a scores write-back.

The CLI's JSON output has the same shapes; ``params`` (r, alpha, a, b, p, q, v) keeps the contract of
``siyu analyze clv --format json``. Money is Decimal yuan (rounded half up to the fen), serialised
as decimal strings.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from siyu.analytics.clv import fen_to_yuan
from siyu.analytics.customer_value import ClvFit, CustomerValues
from siyu.analytics.clv.report import CalibrationReport
from siyu.analytics.scores import ScoresResult
from siyu.errors import NotFound


class ClvCustomerOut(BaseModel):
    """One buyer's summary and predictions (times in the fit's unit, money in yuan)."""

    customer_id: int
    frequency: int = Field(description="Repeat purchase days (x).")
    recency: float = Field(description="First to last purchase day (t_x).")
    age: float = Field(description="First purchase day to the as-of day (T).")
    monetary: Decimal = Field(description="Mean value of the repeat purchase days.")
    expected_purchases: float = Field(description="Expected purchase days over the horizon.")
    p_alive: float
    expected_spend: Decimal = Field(description="Expected value of one purchase (Gamma-Gamma).")
    clv: Decimal = Field(description="Expected discounted spend over the horizon.")


class ClvOut(BaseModel):
    """The fitted models as of a day and the buyers with the highest CLV (or the one asked for)."""

    as_of: date
    time_unit: str
    engine: str
    customers: int = Field(description="Buyers the models were fitted on.")
    repeat_buyers: int
    distinct_rows: int
    params: dict[str, float] = Field(description="r, alpha, a, b (BG/NBD) and p, q, v (Gamma-Gamma, fen).")
    bgnbd: dict[str, Any]
    gamma_gamma: dict[str, Any]
    months: int
    annual_discount_rate: float
    values: list[ClvCustomerOut] = Field(description="Buyers, highest CLV first.")


def params_of(fitted: ClvFit) -> dict[str, float]:
    """Return the parameters under their contract names."""
    g, s = fitted.bgnbd, fitted.gamma_gamma
    return {"r": g.r, "alpha": g.alpha, "a": g.a, "b": g.b, "p": s.p, "q": s.q, "v": s.v}


def top_indices(values: CustomerValues, limit: int, customer: int | None = None) -> np.ndarray:
    """Return the rows to show: ``customer``'s alone, or the ``limit`` highest CLVs (0 = all), best first."""
    if customer is not None:
        rows = np.flatnonzero(values.customer_id == customer)
        if rows.size == 0:
            raise NotFound(f"customer {customer} had no paid order by {values.fit.as_of}, so has no CLV",
                           code="customer_not_scored")
        return rows
    order = np.lexsort((values.customer_id, -values.values.clv))
    return order if limit == 0 else order[:limit]


def clv_out(values: CustomerValues, rows: np.ndarray) -> ClvOut:
    """Return the API shape of a fit and the chosen buyers' values."""
    fitted, v = values.fit, values.values
    return ClvOut(
        as_of=fitted.as_of, time_unit=fitted.time_unit, engine=fitted.engine, customers=fitted.customers,
        repeat_buyers=fitted.repeat_buyers, distinct_rows=fitted.distinct_rows, params=params_of(fitted),
        bgnbd=fitted.bgnbd.to_dict(), gamma_gamma=fitted.gamma_gamma.to_dict(), months=values.months,
        annual_discount_rate=values.annual_discount_rate,
        values=[ClvCustomerOut(customer_id=int(values.customer_id[i]), frequency=int(values.frequency[i]),
                               recency=float(values.recency[i]), age=float(values.age[i]),
                               monetary=fen_to_yuan(values.monetary[i]),
                               expected_purchases=float(v.expected_purchases[i]), p_alive=float(v.probability_alive[i]),
                               expected_spend=fen_to_yuan(v.expected_spend[i]), clv=fen_to_yuan(v.clv[i]))
                for i in rows.tolist()])


class HoldoutRowOut(BaseModel):
    frequency: str = Field(description="Repeat purchases in the calibration period (the top bucket ends in +).")
    customers: int
    actual_mean: float
    predicted_mean: float
    actual_total: int
    predicted_total: float
    expected_customers: float = Field(description="Customers the model expects with this calibration frequency.")


class HoldoutOut(BaseModel):
    """Predicted against actual purchases in the holdout, by calibration frequency (Fader-Hardie's figure)."""

    calibration_end: date
    holdout_end: date
    time_unit: str
    holdout_length: float = Field(description="In the time unit.")
    engine: str
    customers: int
    params: dict[str, float]
    rows: list[HoldoutRowOut]
    actual_total: int
    predicted_total: float


def holdout_out(fitted: ClvFit, report: CalibrationReport, holdout_end: date) -> HoldoutOut:
    """Return the API shape of a calibration/holdout report."""
    fit_rows = {row.frequency: row for row in report.frequency_fit}
    return HoldoutOut(
        calibration_end=fitted.as_of, holdout_end=holdout_end, time_unit=report.time_unit,
        holdout_length=report.holdout_length, engine=fitted.engine, customers=report.customers,
        params=params_of(fitted),
        rows=[HoldoutRowOut(frequency=r.frequency, customers=r.customers, actual_mean=r.actual_mean,
                            predicted_mean=r.predicted_mean, actual_total=r.actual_total,
                            predicted_total=r.predicted_total,
                            expected_customers=fit_rows[r.frequency].expected_customers) for r in report.holdout],
        actual_total=report.actual_total, predicted_total=report.predicted_total)


class ScoresRunOut(BaseModel):
    """What a scores write-back did."""

    run_id: int
    as_of: date
    engine: str
    written: int
    seconds: float
    counts: dict[str, int]
    models: dict[str, Any]
    timings: dict[str, float]


def scores_out(result: ScoresResult) -> ScoresRunOut:
    """Return the API shape of a write-back's result."""
    return ScoresRunOut(run_id=result.run_id, as_of=result.as_of, engine=result.engine, written=result.written,
                        seconds=round(result.seconds, 3), counts=result.counts, models=result.models,
                        timings=result.timings)
