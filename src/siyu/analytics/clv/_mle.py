"""Maximum likelihood over log-parameters, shared by the BG/NBD and Gamma-Gamma fits.

Parameters are optimised on the log scale, which keeps them positive without constraints on the
model's own scale; L-BFGS-B gets the analytic gradient, and wide bounds on the log-parameters
(e^±20) stop a run that drifts towards a degenerate limit from overflowing. An optimum on such a
bound is reported as a warning: the model's limit case (e.g. no heterogeneity in purchase rates)
fits best, which predictions still handle but an analyst should know.

Near such limits the likelihood is a flat ridge (a and b growing together when every customer has
about the same dropout probability), and the line search can stop with "ABNORMAL" because no step
improves the objective any more at double precision. That stop is accepted when the gradient is
negligible (a 1% change of any parameter moves the mean log-likelihood per customer by less than
1e-5), with a warning; a stop far from flat ground, or the iteration limit, fails the fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeResult, minimize

from siyu.analytics.clv._arrays import Floats
from siyu.analytics.clv.errors import ClvFitFailed

LOG_BOUND = 20.0
# Largest |d mean log-likelihood / d log-parameter| at which a stalled line search counts as an optimum.
FLAT_GRADIENT = 1e-3

Objective = Callable[[Floats], tuple[float, Floats]]
RowLikelihood = Callable[..., tuple[Floats, Floats]]


@dataclass(frozen=True)
class Optimum:
    """Where a fit ended: parameters on their own scale, the log-likelihood, iterations, warnings."""

    params: Floats
    log_likelihood: float
    iterations: int
    warnings: tuple[str, ...]


def weighted_objective(row_likelihood: RowLikelihood, columns: tuple[Floats, ...], weights: Floats) -> Objective:
    """Return the mean negative log-likelihood and its gradient over log-parameters, rows weighted.

    ``row_likelihood(theta, *columns)`` gives each row's log-likelihood and its gradient with
    respect to theta, shape (len(theta), rows); the chain rule through θ = e^φ multiplies by θ.
    """
    total = float(weights.sum())

    def objective(log_theta: Floats) -> tuple[float, Floats]:
        """Return the mean negative log-likelihood and its gradient at log-parameters ``log_theta``."""
        theta = np.exp(log_theta)
        ll, grad = row_likelihood(theta, *columns)
        return -float(weights @ ll) / total, -(grad @ weights) * theta / total

    return objective


def maximise(row_likelihood: RowLikelihood, columns: tuple[Floats, ...], weights: Floats, start: Sequence[float],
             names: Sequence[str], *, model: str, hint: str, max_iterations: int) -> Optimum:
    """Maximise the weighted log-likelihood of the rows, starting from ``start`` (parameters on their own scale).

    The optimiser works on the mean per customer, which keeps its tolerances meaningful for ten
    customers and for a million. Raise ClvFitFailed naming the model, the optimiser's reason and
    what to check (``hint``).
    """
    total_weight = float(weights.sum())
    objective = weighted_objective(row_likelihood, columns, weights)
    log_start = np.log(np.asarray(start, dtype=np.float64))
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(log_start)
    with np.errstate(all="ignore"):
        result = minimize(objective, np.clip(log_start, -LOG_BOUND, LOG_BOUND), jac=True,
                          method="L-BFGS-B", bounds=bounds,
                          options={"maxiter": max_iterations, "ftol": 1e-13, "gtol": 1e-9})
    flat = not result.success and result.status == 2 and float(np.abs(_projected(result)).max()) < FLAT_GRADIENT
    if (not result.success and not flat) or not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        reason = str(result.message) if not result.success else "the likelihood is not finite at the optimum"
        raise ClvFitFailed(f"the {model} fit did not converge ({reason}); {hint}",
                           model=model, iterations=int(result.nit))
    at_bound = [name for name, value in zip(names, result.x) if abs(value) >= LOG_BOUND - 1e-6]
    warnings = [f"{model} parameter {name} reached the edge of its range (e^±{LOG_BOUND:g}): the data fit "
                f"a limit case of the model; read its predictions with care" for name in at_bound]
    if flat:
        warnings.append(f"the {model} likelihood is flat around its optimum, so some parameters are poorly "
                        "determined by these data (the predictions are still those of the best fit)")
    return Optimum(np.exp(result.x), -float(result.fun) * total_weight, int(result.nit), tuple(warnings))


def _projected(result: OptimizeResult) -> Floats:
    """Return the gradient without the components that push against a bound the point sits on."""
    grad = np.asarray(result.jac, dtype=np.float64)
    pushing_out = ((result.x >= LOG_BOUND - 1e-9) & (grad < 0)) | ((result.x <= -LOG_BOUND + 1e-9) & (grad > 0))
    return np.where(pushing_out, 0.0, grad)
