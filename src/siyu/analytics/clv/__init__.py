"""Customer lifetime value: BG/NBD purchases and P(alive), Gamma-Gamma spend, discounted CLV.

Pure functions over per-customer summaries (numpy arrays or sequences), independent of any
database or engine: ``summary`` builds the inputs from purchases, ``bgnbd`` and ``gamma_gamma``
fit and predict, ``value`` combines them into CLV, ``report`` checks a fit on a holdout period.
See docs/clv.md.
"""

from siyu.analytics.clv._arrays import collapse_identical_rows
from siyu.analytics.clv.bgnbd import (
    BgNbdParams,
    expected_purchases,
    expected_purchases_new,
    fit_bgnbd,
    log_likelihood,
    probability_alive,
    purchase_count_probability,
)
from siyu.analytics.clv.errors import ClvFitFailed, InvalidClvInput
from siyu.analytics.clv.gamma_gamma import GammaGammaParams, expected_spend, fit_gamma_gamma
from siyu.analytics.clv.report import CalibrationReport, FrequencyRow, HoldoutRow, calibration_report
from siyu.analytics.clv.summary import (
    CustomerSummary,
    TimeUnit,
    check_as_of,
    count_holdout_purchases,
    summarise_customers,
    summarise_purchases,
)
from siyu.analytics.clv.value import (
    CustomerValue,
    ValueArrays,
    customer_values,
    expected_clv,
    fen_to_yuan,
    round_fen,
    value_arrays,
)

__all__ = [
    "BgNbdParams",
    "CalibrationReport",
    "ClvFitFailed",
    "CustomerSummary",
    "CustomerValue",
    "FrequencyRow",
    "GammaGammaParams",
    "HoldoutRow",
    "InvalidClvInput",
    "TimeUnit",
    "ValueArrays",
    "calibration_report",
    "check_as_of",
    "collapse_identical_rows",
    "count_holdout_purchases",
    "customer_values",
    "expected_clv",
    "expected_purchases",
    "expected_purchases_new",
    "expected_spend",
    "fen_to_yuan",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "log_likelihood",
    "probability_alive",
    "purchase_count_probability",
    "round_fen",
    "summarise_customers",
    "summarise_purchases",
    "value_arrays",
]
