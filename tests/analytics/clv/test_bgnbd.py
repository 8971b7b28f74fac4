"""BG/NBD: the published CDNOW estimates, lifetimes as an independent reference, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lifetimes import BetaGeoFitter
from scipy.optimize import check_grad

from siyu.analytics.clv import (
    BgNbdParams,
    ClvFitFailed,
    InvalidClvInput,
    collapse_identical_rows,
    expected_purchases,
    expected_purchases_new,
    fit_bgnbd,
    log_likelihood,
    probability_alive,
    purchase_count_probability,
)
from siyu.analytics.clv._mle import weighted_objective
from siyu.analytics.clv.bgnbd import _ll_and_gradient
from analytics.clv.simulate import simulate_bgnbd

CDNOW_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW = BgNbdParams(r=0.242593, alpha=4.413532, a=0.792886, b=2.425752)
SAMPLE = slice(0, 2357, 23)  # ~100 customers across the data set


@pytest.fixture(scope="module")
def fitted(cdnow):
    return fit_bgnbd(cdnow.x, cdnow.t_x, cdnow.t)


@pytest.fixture(scope="module")
def reference(cdnow):
    """lifetimes' own fit on the same data."""
    return BetaGeoFitter(penalizer_coef=0.0).fit(cdnow.x, cdnow.t_x, cdnow.t)


def test_cdnow_reproduces_published_estimates(fitted):
    for name, published in CDNOW_PUBLISHED.items():
        assert round(getattr(fitted, name), 3) == published, name
        assert getattr(fitted, name) == pytest.approx(published, abs=6e-4), name


def test_cdnow_log_likelihood_matches_paper(fitted, cdnow):
    # FHL (2005) report LL = -9582.4 at their estimates.
    assert fitted.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert fitted.log_likelihood == pytest.approx(float(log_likelihood(fitted, cdnow.x, cdnow.t_x, cdnow.t).sum()))
    assert fitted.customers == 2357
    assert fitted.warnings == ()


def test_cdnow_parameters_match_lifetimes(fitted, reference):
    for name in CDNOW_PUBLISHED:
        assert getattr(fitted, name) == pytest.approx(reference.params_[name], rel=1e-4), name


def test_predictions_match_lifetimes(fitted, reference, cdnow):
    x, t_x, t = cdnow.x[SAMPLE], cdnow.t_x[SAMPLE], cdnow.t[SAMPLE]
    for horizon in (1.0, 10.0, 39.0, 104.0):
        ours = expected_purchases(fitted, horizon, x, t_x, t)
        theirs = reference.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, t)
        np.testing.assert_allclose(ours, theirs, rtol=1e-3)
    np.testing.assert_allclose(probability_alive(fitted, x, t_x, t),
                               reference.conditional_probability_alive(x, t_x, t), rtol=1e-4)
    horizons = np.array([1.0, 39.0, 78.0])
    np.testing.assert_allclose(expected_purchases_new(fitted, horizons),
                               reference.expected_number_of_purchases_up_to_time(horizons), rtol=1e-3)


def test_count_distribution_matches_lifetimes(fitted, reference):
    counts = np.arange(0, 8)
    theirs = [reference.probability_of_n_purchases_up_to_time(39.0, int(n)) for n in counts]
    np.testing.assert_allclose(purchase_count_probability(fitted, 39.0, counts), theirs, rtol=1e-3)


def test_count_distribution_sums_to_one_with_mean_e_x(fitted):
    counts = np.arange(0, 10_000)  # the tail is long: r < 1 means a few very heavy buyers
    for horizon in (0.5, 39.0, 500.0):
        probabilities = purchase_count_probability(fitted, horizon, counts)
        assert np.all(probabilities >= 0)
        assert probabilities.sum() == pytest.approx(1.0, abs=1e-9)
        assert counts @ probabilities == pytest.approx(float(expected_purchases_new(fitted, horizon)), rel=1e-6)


def test_analytic_gradient_matches_finite_differences(cdnow):
    objective = weighted_objective(_ll_and_gradient, (cdnow.x, cdnow.t_x, cdnow.t), np.ones(cdnow.x.size))
    for point in (np.log([0.24, 4.4, 0.79, 2.4]), np.log([1.3, 0.2, 3.0, 0.6])):
        error = check_grad(lambda z: objective(z)[0], lambda z: objective(z)[1], point)
        assert error < 1e-5 * max(1.0, float(np.abs(objective(point)[1]).max()))


def test_customer_without_repeat_purchases_is_alive_and_new_customer_matches_e_x():
    assert probability_alive(CDNOW, [0, 0], [0, 0], [0.0, 500.0]).tolist() == [1.0, 1.0]
    # Just born (x = 0, T = 0), a customer is a new customer: E[Y(t) | 0, 0, 0] = E[X(t)].
    for horizon in (1.0, 39.0, 300.0):
        assert expected_purchases(CDNOW, horizon, [0], [0], [0])[0] == pytest.approx(
            float(expected_purchases_new(CDNOW, horizon)), rel=1e-12)
    # Silence lowers expectations even at P(alive) = 1: the rate estimate falls with T.
    assert np.all(np.diff(expected_purchases(CDNOW, 10.0, [0, 0, 0], [0, 0, 0], [1.0, 10.0, 100.0])) < 0)


def test_last_purchase_at_age_has_closed_form_p_alive():
    x, a, b = 3, CDNOW.a, CDNOW.b
    assert probability_alive(CDNOW, [x], [20.0], [20.0])[0] == pytest.approx(1 / (1 + a / (b + x - 1)), rel=1e-12)
    # Longer silence after the same history: less likely alive.
    alive = probability_alive(CDNOW, [x, x, x], [20.0] * 3, [20.0, 30.0, 60.0])
    assert alive[0] > alive[1] > alive[2]


def test_a_equal_to_one_is_continuous():
    # The predictions divide by a - 1; at a = 1 they take the limit, between its neighbours.
    x, t_x, t = [0, 1, 3, 10], [0.0, 5.0, 20.0, 30.0], [40.0] * 4
    below, at_one, above = (BgNbdParams(0.24, 4.4, a, 2.4) for a in (0.999, 1.0, 1.001))
    predictions = (lambda p: expected_purchases(p, 20.0, x, t_x, t), lambda p: expected_purchases_new(p, [10.0, 50.0]))
    for predict in predictions:
        low, mid, high = predict(below), predict(at_one), predict(above)
        assert np.all(np.isfinite(mid)) and np.all((np.minimum(low, high) <= mid) & (mid <= np.maximum(low, high)))


def test_huge_age_stays_finite():
    x, t_x, t = [0, 3, 50], [0.0, 1.0, 1.0], [1e9, 1e9, 1e9]
    alive = probability_alive(CDNOW, x, t_x, t)
    assert alive[0] == 1.0 and 0.0 <= alive[2] <= alive[1] < 1e-6
    expected = expected_purchases(CDNOW, 52.0, x, t_x, t)
    assert np.all(np.isfinite(expected)) and np.all(expected >= 0) and expected[0] < 1e-4
    assert np.all(np.isfinite(log_likelihood(CDNOW, x, t_x, t)))


def test_fit_with_very_old_customers_converges(cdnow):
    x = np.concatenate([cdnow.x, [0.0, 2.0, 40.0]])
    t_x = np.concatenate([cdnow.t_x, [0.0, 3.0, 1e5]])
    t = np.concatenate([cdnow.t, [1e6, 1e6, 1e6]])
    fitted = fit_bgnbd(x, t_x, t)
    assert np.isfinite(fitted.log_likelihood) and fitted.customers == 2360
    assert fitted.r == pytest.approx(0.2426, rel=0.05)


def test_identical_rows_with_weights_equal_repeated_rows(cdnow):
    rows = slice(0, 600)
    x, t_x, t = cdnow.x[rows], cdnow.t_x[rows], cdnow.t[rows]
    counts = np.arange(600) % 4 + 1
    weighted = fit_bgnbd(x, t_x, t, weights=counts)
    repeated = fit_bgnbd(np.repeat(x, counts), np.repeat(t_x, counts), np.repeat(t, counts))
    for name in ("r", "alpha", "a", "b", "log_likelihood"):
        assert getattr(weighted, name) == pytest.approx(getattr(repeated, name), rel=1e-6), name
    assert weighted.customers == repeated.customers == counts.sum()


def test_collapsed_rows_fit_like_all_customers(cdnow, fitted):
    (x, t_x, t), counts = collapse_identical_rows(cdnow.x, cdnow.t_x, cdnow.t)
    assert counts.sum() == 2357 and x.size < 2357
    collapsed = fit_bgnbd(x, t_x, t, weights=counts)
    assert collapsed.log_likelihood == pytest.approx(fitted.log_likelihood, abs=1e-6)
    assert collapsed.b == pytest.approx(fitted.b, rel=1e-5)


def test_time_unit_only_rescales_alpha(cdnow, fitted):
    in_days = fit_bgnbd(cdnow.x, cdnow.t_x * 7, cdnow.t * 7)
    assert in_days.alpha == pytest.approx(fitted.alpha * 7, rel=1e-4)
    for name in ("r", "a", "b"):
        assert getattr(in_days, name) == pytest.approx(getattr(fitted, name), rel=1e-4), name


def test_recovers_simulated_parameters_like_lifetimes():
    rng = np.random.default_rng(20050101)
    ages = rng.uniform(5.0, 60.0, 20_000)
    x, t_x = simulate_bgnbd(rng, ages, r=0.6, alpha=8.0, a=0.7, b=3.0)
    fitted = fit_bgnbd(x, t_x, ages)
    truth = BgNbdParams(0.6, 8.0, 0.7, 3.0)
    assert fitted.log_likelihood >= float(log_likelihood(truth, x, t_x, ages).sum())
    assert fitted.r == pytest.approx(0.6, rel=0.1) and fitted.alpha == pytest.approx(8.0, rel=0.15)
    assert fitted.a == pytest.approx(0.7, rel=0.3) and fitted.b == pytest.approx(3.0, rel=0.3)
    reference = BgNbdParams(**BetaGeoFitter(penalizer_coef=0.0).fit(x, t_x, ages).params_.to_dict())
    assert fitted.log_likelihood >= float(log_likelihood(reference, x, t_x, ages).sum()) - 1e-6
    assert fitted.a == pytest.approx(reference.a, rel=1e-3) and fitted.b == pytest.approx(reference.b, rel=1e-3)


def test_same_dropout_for_everyone_fits_with_a_warning():
    # With p nearly equal across customers (a, b large, a/(a+b) = 0.2) the likelihood is a flat ridge
    # along which a and b grow together; the fit stops there, keeps the dropout mean, and says so.
    rng = np.random.default_rng(0)
    ages = rng.uniform(5.0, 60.0, 3000)
    x, t_x = simulate_bgnbd(rng, ages, r=1.0, alpha=10.0, a=2000.0, b=8000.0)
    fitted = fit_bgnbd(x, t_x, ages)
    assert fitted.a / (fitted.a + fitted.b) == pytest.approx(0.2, abs=0.02)
    assert any("flat" in warning for warning in fitted.warnings)


def test_no_repeat_buyers_fails_clearly():
    with pytest.raises(ClvFitFailed) as failure:
        fit_bgnbd([0, 0, 0], [0, 0, 0], [5.0, 9.0, 30.0])
    assert failure.value.code == "clv_fit_failed" and failure.value.status == 422
    assert "bought more than once" in failure.value.message


def test_fit_that_does_not_converge_fails_clearly(cdnow):
    with pytest.raises(ClvFitFailed) as failure:
        fit_bgnbd(cdnow.x, cdnow.t_x, cdnow.t, max_iterations=2)
    assert failure.value.code == "clv_fit_failed"
    assert "did not converge" in failure.value.message
    assert "946 of 2357 did" in failure.value.message  # says how many repeat buyers there were


@pytest.mark.parametrize(("x", "t_x", "t", "fragment"), [
    ([1, 2], [3.0, 5.0], [2.0, 9.0], "row 0: recency"),
    ([1.5], [1.0], [2.0], "whole number"),
    ([0], [1.0], [2.0], "recency 0"),
    ([1, 2], [1.0], [2.0, 3.0], "differ in length"),
    ([1], [float("nan")], [2.0], "recency[0] is not a finite number"),
    ([], [], [], "no customers"),
])
def test_impossible_summaries_are_refused(x, t_x, t, fragment):
    with pytest.raises(InvalidClvInput) as failure:
        fit_bgnbd(x, t_x, t)
    assert fragment in failure.value.message
    assert failure.value.status == 422


def _series_tail(shape: float, b_x: float, c: float, z: float) -> float:
    """(1 − z)^shape · 2F1(shape, b_x; c; z) summed term by term in plain Python (z small here)."""
    term, total, n = 1.0, 1.0, 0
    while abs(term) > 1e-17 * abs(total):
        term *= (shape + n) * (b_x + n) / ((c + n) * (n + 1)) * z
        total += term
        n += 1
    return math.exp(shape * math.log1p(-z)) * total


def test_rates_without_heterogeneity_still_predict() -> None:
    """A fit with r and α in the thousands (purchase rates that barely vary) must not give NaN purchases."""
    params = BgNbdParams(r=42149.5, alpha=2840581.2, a=0.000268, b=6617.7)
    x, t_x, t, horizon = [0.0, 1.0, 3.0], [0.0, 8.57, 30.0], [24.3, 8.57, 52.0], 52.18
    got = expected_purchases(params, horizon, x, t_x, t)
    alive = probability_alive(params, x, t_x, t)
    for i in range(3):
        a, b, r = params.a, params.b, params.r
        tail = _series_tail(r + x[i], b + x[i], a + b + x[i] - 1, horizon / (params.alpha + t[i] + horizon))
        expected = (a + b + x[i] - 1) / (a - 1) * (1 - tail) * alive[i]
        assert math.isfinite(got[i]) and got[i] == pytest.approx(expected, rel=1e-3)
    new = expected_purchases_new(params, [10.0, 52.0])
    assert np.all(np.isfinite(new)) and new[1] == pytest.approx(52.0 * params.r / params.alpha, rel=0.01)
