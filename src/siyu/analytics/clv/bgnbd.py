"""BG/NBD: repeat purchases and P(alive) (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way").

While alive, a customer buys as a Poisson process with rate λ ~ Gamma(r, α); right after each
purchase they drop out for good with probability p ~ Beta(a, b). The data per customer are
x (repeat purchases), t_x (time of the last repeat purchase) and T (time since the first purchase),
all measured from the first purchase in one time unit (see ``summary.py``); α is in that unit.

The log-likelihood is computed in log space (gammaln, betaln, logaddexp) so that
customers with a long silence, huge T or many purchases neither overflow nor lose precision, and
its gradient is analytic, so a fit costs a few dozen passes over the (collapsed) rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, digamma, gammaln, hyp1f1, hyp2f1
from scipy.stats import nbinom

from siyu.analytics.clv._arrays import Floats, summary_arrays, weights_or_ones
from siyu.analytics.clv._mle import maximise
from siyu.analytics.clv.errors import ClvFitFailed, InvalidClvInput

NAMES = ("r", "alpha", "a", "b")
# The predictions divide by a − 1, a removable singularity: closer than this, evaluate either side.
A_NEAR_ONE = 1e-6


@dataclass(frozen=True)
class BgNbdParams:
    """Fitted BG/NBD parameters and how the fit went."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    customers: float = 0.0
    iterations: int = 0
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters and fit details as JSON-ready data."""
        return {**asdict(self), "warnings": list(self.warnings)}


def _ll_and_gradient(theta: Floats, x: Floats, t_x: Floats, t: Floats) -> tuple[Floats, Floats]:
    """Return each row's log-likelihood and its gradient with respect to (r, α, a, b), shape (4, n)."""
    r, alpha, a, b = theta
    repeat = x > 0
    b_x1 = np.where(repeat, b + x - 1, 1.0)
    log_at, log_atx = np.log(alpha + t), np.log(alpha + t_x)
    l3 = -(r + x) * log_at
    l4 = np.where(repeat, np.log(a) - np.log(b_x1) - (r + x) * log_atx, -np.inf)
    mix = np.logaddexp(l3, l4)
    w3, w4 = np.exp(l3 - mix), np.exp(l4 - mix)
    ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b) + mix
    psi_abx = digamma(a + b + x)
    grad = np.stack([
        digamma(r + x) - digamma(r) + np.log(alpha) - w3 * log_at - w4 * log_atx,
        r / alpha - (r + x) * (w3 / (alpha + t) + w4 / (alpha + t_x)),
        digamma(a + b) - psi_abx + w4 / a,
        digamma(b + x) - psi_abx - digamma(b) + digamma(a + b) - w4 / b_x1,
    ])
    return ll, grad


def log_likelihood(params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> Floats:
    """Return each customer's BG/NBD log-likelihood under ``params``."""
    x, t_x, t = summary_arrays(frequency, recency, age)
    return _ll_and_gradient(np.array([params.r, params.alpha, params.a, params.b]), x, t_x, t)[0]


def fit_bgnbd(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike, weights: ArrayLike | None = None, *,
              max_iterations: int = 1000) -> BgNbdParams:
    """Fit the BG/NBD by maximum likelihood; ``weights`` count identical customers (default one each)."""
    x, t_x, t = summary_arrays(frequency, recency, age)
    w = weights_or_ones(weights, x.size)
    total, repeaters = float(w.sum()), float(w[x > 0].sum())
    if total <= 0:
        raise InvalidClvInput("the weights add up to zero: there are no customers to fit")
    if repeaters == 0:
        raise ClvFitFailed(f"none of the {total:g} customers bought more than once, so the BG/NBD cannot "
                           "estimate purchase rates or dropout; pick a later as-of date or a longer history",
                           model="BG/NBD")
    # Start from r = 1 and the pooled repeat rate, so α begins on the scale of the time unit.
    start = (1.0, float(w @ t) / float(w @ x), 1.0, 1.0)
    hint = (f"check that enough customers bought again ({repeaters:g} of {total:g} did), that recency and age "
            "are in the same time unit, and that test or bulk orders are left out")
    optimum = maximise(_ll_and_gradient, (x, t_x, t), w, start, NAMES, model="BG/NBD",
                       hint=hint, max_iterations=max_iterations)
    r, alpha, a, b = (float(v) for v in optimum.params)
    return BgNbdParams(r, alpha, a, b, optimum.log_likelihood, total, optimum.iterations, optimum.warnings)


def _a_values(a: float) -> tuple[float, ...]:
    return (a,) if abs(a - 1.0) > A_NEAR_ONE else (1.0 - A_NEAR_ONE, 1.0 + A_NEAR_ONE)


def _log_alive_odds(r: float, alpha: float, a: float, b: float, x: Floats, t_x: Floats, t: Floats) -> Floats:
    """Return log(1/P(alive)) = log(1 + [x > 0] · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))."""
    repeat = x > 0
    log_odds = np.where(repeat, np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0))
                        + (r + x) * (np.log(alpha + t) - np.log(alpha + t_x)), -np.inf)
    return np.logaddexp(0.0, log_odds)


def probability_alive(params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> Floats:
    """Return P(alive | x, t_x, T); 1 for customers without repeat purchases, as the model implies."""
    x, t_x, t = summary_arrays(frequency, recency, age)
    return np.exp(-_log_alive_odds(params.r, params.alpha, params.a, params.b, x, t_x, t))


def _horizon(t_future: ArrayLike) -> Floats:
    horizon = np.asarray(t_future, dtype=np.float64)
    if not np.all(np.isfinite(horizon)) or np.any(horizon < 0):
        raise InvalidClvInput("the prediction horizon must be a finite time ≥ 0")
    return horizon


def _tail(shape: Floats, b_x: Floats, a: float, c: Floats, start: Floats, horizon: Floats) -> Floats:
    """Return ((s)/(s+h))^shape · 2F1(shape, b_x; c; h/(s+h)), the factor of the expected purchases.

    With a huge ``shape`` (a fit where purchase rates barely vary: r and α both in the thousands)
    scipy's hyp2f1 gives NaN; the factor then tends to its confluent limit 1F1(a − 1; c; −shape·h/s)
    (Kummer's transformation of e^(−λh)·1F1(b_x; c; λh) with λ = shape/s), used where the direct value
    is not finite.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        shrink = shape * (np.log(start) - np.log(start + horizon))
        tail = np.exp(shrink) * hyp2f1(shape, b_x, c, horizon / (start + horizon))
        bad = ~np.isfinite(tail)
        if np.any(bad):
            limit = hyp1f1(a - 1.0, c, -shape * horizon / start)
            tail = np.where(bad, limit, tail)
    return np.asarray(tail, dtype=np.float64)


def expected_purchases(params: BgNbdParams, t_future: ArrayLike, frequency: ArrayLike, recency: ArrayLike,
                       age: ArrayLike) -> Floats:
    """Return E[Y(t) | x, t_x, T], each customer's expected purchases in the next ``t_future`` periods."""
    x, t_x, t = summary_arrays(frequency, recency, age)
    horizon, r, alpha, b = _horizon(t_future), params.r, params.alpha, params.b
    results = []
    for a in _a_values(params.a):
        tail = _tail(r + x, b + x, a, a + b + x - 1, alpha + t, np.broadcast_to(horizon, x.shape))
        head = (a + b + x - 1) / (a - 1) * (1.0 - tail)
        results.append(head * np.exp(-_log_alive_odds(r, alpha, a, b, x, t_x, t)))
    return np.mean(results, axis=0)


def expected_purchases_new(params: BgNbdParams, t_future: ArrayLike) -> Floats:
    """Return E[X(t)], the expected purchases in (0, t] of a customer just starting."""
    horizon, r, alpha, b = _horizon(t_future), params.r, params.alpha, params.b
    results = []
    for a in _a_values(params.a):
        tail = _tail(np.full_like(horizon, r), np.full_like(horizon, b), a, np.full_like(horizon, a + b - 1),
                     np.full_like(horizon, alpha), horizon)
        results.append((a + b - 1) / (a - 1) * (1.0 - tail))
    return np.mean(results, axis=0)


def purchase_count_probability(params: BgNbdParams, t_future: ArrayLike, count: ArrayLike) -> Floats:
    """Return P(X(t) = count) for a customer just starting: the model's distribution of purchases in (0, t]."""
    horizon = _horizon(t_future)
    n = np.asarray(count, dtype=np.float64)
    if np.any(n < 0) or np.any(n != np.floor(n)):
        raise InvalidClvInput("a purchase count must be a whole number ≥ 0")
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    stay = alpha / (alpha + horizon)  # the negative binomial's success probability
    alive_all = np.exp(betaln(a, b + n) - betaln(a, b)) * nbinom.pmf(n, r, stay)
    repeat = n > 0
    dropped = np.exp(betaln(a + 1, np.where(repeat, b + n - 1, b)) - betaln(a, b)) * nbinom.sf(n - 1, r, stay)
    return alive_all + np.where(repeat, dropped, 0.0)
