"""Calibration/holdout report: how well a fitted BG/NBD predicts purchases it did not see.

Fit on the calibration period (summaries as of its last day), then compare, by the customers'
calibration frequency x (0, 1, …, top−1 and a top bucket "top+"):

- **holdout**: the mean and total repeat purchases customers actually made in the holdout period
  (purchase occasions after the calibration end up to the holdout end, see
  :func:`summary.count_holdout_purchases`) against the model's conditional expectation
  E[Y(t*) | x, t_x, T] for a holdout of length t*;
- **frequency fit**: how many customers made x repeat purchases in the calibration period against
  the number the model expects, Σ_i P(X(T_i) = x) over the customers' ages T_i.

Close columns mean the model ranks and sizes future demand well; a model that is right on the
totals but off by group misallocates attention between light and heavy buyers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from siyu.analytics.clv._arrays import Floats, summary_arrays
from siyu.analytics.clv.bgnbd import BgNbdParams, expected_purchases, purchase_count_probability
from siyu.analytics.clv.errors import InvalidClvInput
from siyu.analytics.clv.summary import TimeUnit, unit_days

DEFAULT_TOP_FREQUENCY = 7


@dataclass(frozen=True)
class HoldoutRow:
    """Customers with one calibration frequency: their actual and predicted holdout purchases."""

    frequency: str
    customers: int
    actual_mean: float
    predicted_mean: float
    actual_total: int
    predicted_total: float


@dataclass(frozen=True)
class FrequencyRow:
    """How many customers made this many repeat purchases in calibration, and how many the model expects."""

    frequency: str
    actual_customers: int
    expected_customers: float


@dataclass(frozen=True)
class CalibrationReport:
    """Predicted against actual purchases, by calibration frequency, with totals."""

    time_unit: str
    holdout_length: float
    customers: int
    params: BgNbdParams
    holdout: tuple[HoldoutRow, ...]
    frequency_fit: tuple[FrequencyRow, ...]
    actual_total: int
    predicted_total: float

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        data = asdict(self)
        data["params"] = self.params.to_dict()
        return data

    def to_json(self) -> str:
        """Return the report as a JSON document."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


def _labels(top: int) -> list[str]:
    return [str(x) for x in range(top)] + [f"{top}+"]


def _holdout_rows(group: Floats, actual: Floats, predicted: Floats, top: int) -> tuple[HoldoutRow, ...]:
    rows = []
    for index, label in enumerate(_labels(top)):
        members = group == index
        n = int(np.count_nonzero(members))
        actual_total, predicted_total = int(actual[members].sum()), float(predicted[members].sum())
        rows.append(HoldoutRow(label, n, actual_total / n if n else 0.0, predicted_total / n if n else 0.0,
                               actual_total, predicted_total))
    return tuple(rows)


def _frequency_rows(params: BgNbdParams, group: Floats, t: Floats, top: int) -> tuple[FrequencyRow, ...]:
    ages, counts = np.unique(t, return_counts=True)
    probabilities = purchase_count_probability(params, ages[:, None], np.arange(top)[None, :])
    expected = list(counts @ probabilities)
    expected.append(float(t.size) - float(np.sum(expected)))  # the top bucket: P(X(T) ≥ top)
    return tuple(FrequencyRow(label, int(np.count_nonzero(group == index)), float(expected[index]))
                 for index, label in enumerate(_labels(top)))


def calibration_report(params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike,
                       holdout_purchases: ArrayLike, *, holdout_length: float, time_unit: TimeUnit,
                       top_frequency: int = DEFAULT_TOP_FREQUENCY) -> CalibrationReport:
    """Return predicted against actual holdout purchases and the calibration frequency fit, by frequency."""
    x, t_x, t = summary_arrays(frequency, recency, age)
    unit_days(time_unit)
    actual = np.asarray(holdout_purchases, dtype=np.float64)
    if actual.shape != x.shape or np.any(actual < 0) or np.any(actual != np.floor(actual)):
        raise InvalidClvInput("holdout purchases must be one whole number ≥ 0 per customer")
    if not 1 <= top_frequency <= 100:
        raise InvalidClvInput(f"the top frequency bucket must be between 1 and 100, got {top_frequency}")
    if not holdout_length > 0:
        raise InvalidClvInput(f"the holdout length must be positive, got {holdout_length}")
    predicted = expected_purchases(params, holdout_length, x, t_x, t)
    group = np.minimum(x, top_frequency)
    return CalibrationReport(time_unit=time_unit, holdout_length=float(holdout_length), customers=int(x.size),
                             params=params, holdout=_holdout_rows(group, actual, predicted, top_frequency),
                             frequency_fit=_frequency_rows(params, group, t, top_frequency),
                             actual_total=int(actual.sum()), predicted_total=float(predicted.sum()))
