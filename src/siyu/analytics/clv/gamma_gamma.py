"""Gamma-Gamma: the value of a customer's purchases (Fader, Hardie & Lee 2005, "RFM and CLV").

A customer's purchase values vary around their own mean ζ; each value is Gamma(p, ν) and
ν ~ Gamma(q, γ) across customers (``v`` below is γ, the name ``lifetimes`` uses). Observing x
purchases with mean m, the customer's expected mean value shrinks m towards the population mean
γp/(q−1) (Hardie's note "The Gamma-Gamma Model of Monetary Value", 2013):

    E[Z | p, q, γ, m, x] = (q−1)/(px+q−1) · γp/(q−1) + px/(px+q−1) · m

The model assumes a customer's spend does not depend on how often they buy; the fit reports the
Pearson correlation of frequency and mean spend across the repeat buyers and warns when it is
large, since the model then mixes two things it treats as independent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from siyu.analytics.clv._arrays import Floats, spend_arrays, weights_or_ones
from siyu.analytics.clv._mle import maximise
from siyu.analytics.clv.errors import ClvFitFailed, InvalidClvInput

NAMES = ("p", "q", "v")
# |correlation| of frequency and mean spend above which the independence assumption is in doubt.
CORRELATION_WARNING = 0.3


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters, how the fit went, and the independence check."""

    p: float
    q: float
    v: float
    log_likelihood: float = float("nan")
    customers: float = 0.0
    iterations: int = 0
    frequency_monetary_correlation: float = float("nan")
    warnings: tuple[str, ...] = ()

    @property
    def population_mean(self) -> float:
        """Return the expected mean purchase value of a customer nothing is known about, γp/(q−1)."""
        return self.v * self.p / (self.q - 1.0)

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters and fit details as JSON-ready data."""
        return {**asdict(self), "warnings": list(self.warnings)}


def _ll_and_gradient(theta: Floats, x: Floats, m: Floats) -> tuple[Floats, Floats]:
    """Return each row's log-likelihood of its mean value m given x, and the gradient over (p, q, v)."""
    p, q, v = theta
    px = p * x
    log_vm = np.log(v + x * m)
    ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v) + (px - 1) * np.log(m)
          + px * np.log(x) - (px + q) * log_vm)
    psi = digamma(px + q)
    grad = np.stack([
        x * (psi - digamma(px) + np.log(m) + np.log(x) - log_vm),
        psi - digamma(q) + np.log(v) - log_vm,
        q / v - (px + q) / (v + x * m),
    ])
    return ll, grad



def _correlation(x: Floats, m: Floats, w: Floats) -> float:
    """Return the weighted Pearson correlation of frequency and mean spend (NaN when undefined)."""
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(m) == 0:
        return float("nan")
    cov = np.cov(np.vstack([x, m]), aweights=w)
    return float(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]))


def _spend_rows(frequency: ArrayLike, monetary: ArrayLike,
                weights: ArrayLike | None) -> tuple[Floats, Floats, Floats, int]:
    """Return the repeat buyers with a positive mean spend, their weights, and how many had zero spend."""
    x, m = spend_arrays(frequency, monetary)
    w = weights_or_ones(weights, x.size)
    repeat = (x > 0) & (w > 0)
    usable = repeat & (m > 0)
    return x[usable], m[usable], w[usable], int(np.count_nonzero(repeat & (m == 0)))


def fit_gamma_gamma(frequency: ArrayLike, monetary: ArrayLike, weights: ArrayLike | None = None, *,
                    max_iterations: int = 1000) -> GammaGammaParams:
    """Fit the Gamma-Gamma model by maximum likelihood on the repeat buyers among the rows given.

    Rows with frequency 0 carry no spend information and are skipped, as are repeat buyers whose
    repeat purchases were all worth nothing (the model needs positive values; a warning counts them).
    """
    x, m, w, zero_spend = _spend_rows(frequency, monetary, weights)
    if x.size < 2:
        raise ClvFitFailed(f"the Gamma-Gamma spend model needs at least two repeat buyers with a positive mean "
                           f"repeat purchase value, found {x.size}; pick a later as-of date or a longer history",
                           model="Gamma-Gamma")
    total = float(w.sum())
    start = (1.0, 2.0, float(w @ m) / total)  # population mean v·p/(q−1) starts at the observed mean
    hint = (f"check the {total:g} repeat buyers' purchase values: all in fen, refunds and test orders left out, "
            "and not all equal")
    optimum = maximise(_ll_and_gradient, (x, m), w, start, NAMES, model="Gamma-Gamma",
                       hint=hint, max_iterations=max_iterations)
    p, q, v = (float(value) for value in optimum.params)
    if q <= 1.0:
        raise ClvFitFailed(f"the Gamma-Gamma fit gives q = {q:.3f} ≤ 1, an infinite mean purchase value: a few very "
                           "large purchases dominate; check for outliers such as bulk or test orders",
                           model="Gamma-Gamma")
    correlation = _correlation(x, m, w)
    warnings = list(optimum.warnings)
    if zero_spend:
        warnings.append(f"{zero_spend} repeat buyers whose repeat purchases were worth nothing were left out")
    if abs(correlation) > CORRELATION_WARNING:
        warnings.append(f"frequency and mean purchase value correlate ({correlation:.2f}) across repeat buyers; "
                        "the Gamma-Gamma model assumes they are independent")
    return GammaGammaParams(p, q, v, optimum.log_likelihood, total, optimum.iterations, correlation, tuple(warnings))


def expected_spend(params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike) -> Floats:
    """Return each customer's expected mean purchase value; the population mean for customers with x = 0."""
    x, m = spend_arrays(frequency, monetary)
    if params.q <= 1.0:
        raise InvalidClvInput("Gamma-Gamma parameters with q ≤ 1 have no finite mean purchase value")
    px = params.p * x
    return (params.q - 1.0) / (px + params.q - 1.0) * params.population_mean + px / (px + params.q - 1.0) * m
