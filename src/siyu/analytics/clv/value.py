"""Customer lifetime value: the discounted value of the purchases expected over the next months.

For a horizon of H months and a monthly discount rate d, with m the length of a month in the
models' time unit (365.25 / 12 days) and E[Y(t)] the BG/NBD's expected purchases in the next t:

    CLV = Σ_{i=1..H} (E[Y(i·m)] − E[Y((i−1)·m)]) · E[Z] / (1 + d)^i

E[Z] is the Gamma-Gamma expected purchase value. Purchases of month i are discounted at its end,
the usual discrete cash-flow convention (as in ``lifetimes``). The rate is given per year and turned
into the equivalent monthly rate (1 + annual)^(1/12) − 1; the default, 12% a year, is a common cost
of capital for a retail brand: set the brand's own. Values are of purchase amounts (revenue);
multiply by a margin for profit. Expectations are floats in fen inside; :func:`customer_values`
rounds them to Decimal yuan at the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from siyu.analytics.clv._arrays import Floats, spend_arrays, summary_arrays
from siyu.analytics.clv.bgnbd import BgNbdParams, expected_purchases, probability_alive
from siyu.analytics.clv.errors import InvalidClvInput
from siyu.analytics.clv.gamma_gamma import GammaGammaParams, expected_spend
from siyu.analytics.clv.summary import TimeUnit, unit_days
from siyu.kit.money import CENT

DAYS_PER_MONTH = 365.25 / 12
DEFAULT_ANNUAL_DISCOUNT_RATE = 0.12
DEFAULT_MONTHS = 12
MAX_MONTHS = 120


@dataclass(frozen=True)
class CustomerValue:
    """One customer's predictions over the horizon; money in Decimal yuan."""

    expected_purchases: float
    probability_alive: float
    expected_spend: Decimal
    clv: Decimal

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data, money as decimal strings."""
        return {"expected_purchases": self.expected_purchases, "probability_alive": self.probability_alive,
                "expected_spend": str(self.expected_spend), "clv": str(self.clv)}


def monthly_discount_rate(annual_rate: float) -> float:
    """Return the monthly rate equivalent to an annual discount rate."""
    if not 0.0 <= annual_rate <= 10.0:
        raise InvalidClvInput(f"annual discount rate {annual_rate!r} must be between 0 and 10 (0.12 means 12%)")
    return (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0


def fen_to_yuan(value: float) -> Decimal:
    """Return a model's expected amount in fen as Decimal yuan, rounded half up to the fen."""
    if not np.isfinite(value):
        raise InvalidClvInput(f"expected amount {value!r} is not a finite number")
    return (Decimal(repr(float(value))) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _check_months(months: int) -> None:
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
        raise InvalidClvInput(f"the horizon must be a whole number of months from 1 to {MAX_MONTHS}, got {months!r}")


@dataclass(frozen=True)
class ValueArrays:
    """Every customer's predictions over the horizon as arrays; amounts in fen (float)."""

    expected_purchases: Floats
    probability_alive: Floats
    expected_spend: Floats
    clv: Floats


def round_fen(values: ArrayLike) -> NDArray[np.int64]:
    """Return expected amounts in fen rounded half up to whole fen (as :func:`fen_to_yuan`, vectorised)."""
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise InvalidClvInput("expected amounts must be finite and ≥ 0")
    return np.floor(array + 0.5).astype(np.int64)


def value_arrays(bgnbd: BgNbdParams, gamma_gamma: GammaGammaParams, frequency: ArrayLike, recency: ArrayLike,
                 age: ArrayLike, monetary: ArrayLike, *, time_unit: TimeUnit, months: int = DEFAULT_MONTHS,
                 annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE) -> ValueArrays:
    """Return each customer's expected purchases, P(alive), expected spend and CLV over ``months`` as arrays."""
    _check_months(months)
    x, t_x, t = summary_arrays(frequency, recency, age)
    spend = expected_spend(gamma_gamma, *spend_arrays(x, monetary))
    month = DAYS_PER_MONTH / unit_days(time_unit)
    discount = 1.0 + monthly_discount_rate(annual_discount_rate)
    cumulative = [np.zeros_like(x)] + [expected_purchases(bgnbd, i * month, x, t_x, t) for i in range(1, months + 1)]
    value = np.zeros_like(x)
    for i in range(1, months + 1):
        value += (cumulative[i] - cumulative[i - 1]) / discount**i
    return ValueArrays(cumulative[months], probability_alive(bgnbd, x, t_x, t), spend, value * spend)


def expected_clv(bgnbd: BgNbdParams, gamma_gamma: GammaGammaParams, frequency: ArrayLike, recency: ArrayLike,
                 age: ArrayLike, monetary: ArrayLike, *, time_unit: TimeUnit, months: int = DEFAULT_MONTHS,
                 annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE) -> Floats:
    """Return each customer's expected discounted purchase value over ``months``, in fen (float)."""
    return value_arrays(bgnbd, gamma_gamma, frequency, recency, age, monetary, time_unit=time_unit, months=months,
                        annual_discount_rate=annual_discount_rate).clv


def customer_values(bgnbd: BgNbdParams, gamma_gamma: GammaGammaParams, frequency: ArrayLike, recency: ArrayLike,
                    age: ArrayLike, monetary: ArrayLike, *, time_unit: TimeUnit, months: int = DEFAULT_MONTHS,
                    annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE) -> list[CustomerValue]:
    """Return each customer's expected purchases, P(alive), expected spend and CLV over ``months``."""
    v = value_arrays(bgnbd, gamma_gamma, frequency, recency, age, monetary, time_unit=time_unit, months=months,
                     annual_discount_rate=annual_discount_rate)
    return [CustomerValue(float(n), float(p), fen_to_yuan(s), fen_to_yuan(c))
            for n, p, s, c in zip(v.expected_purchases, v.probability_alive, v.expected_spend, v.clv)]
