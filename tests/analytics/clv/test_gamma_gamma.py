"""Gamma-Gamma: the published CDNOW estimates, lifetimes as an independent reference, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from lifetimes import GammaGammaFitter

from siyu.analytics.clv import (
    ClvFitFailed,
    GammaGammaParams,
    InvalidClvInput,
    expected_spend,
    fit_gamma_gamma,
    summarise_customers,
)
from analytics.clv.cdnow import CALIBRATION_END, NOW, UTC_ZONE
from analytics.clv.simulate import simulate_spend


@pytest.fixture(scope="module")
def fitted(cdnow):
    return fit_gamma_gamma(cdnow.x, cdnow.zbar)


@pytest.fixture(scope="module")
def reference(cdnow):
    """lifetimes' own fit on the repeat buyers of the same data."""
    repeat = cdnow.x > 0
    return GammaGammaFitter(penalizer_coef=0.0).fit(cdnow.x[repeat], cdnow.zbar[repeat])


def test_cdnow_summary_matches_lifetimes(fitted, reference):
    # On the published summary (mean values rounded to cents) lifetimes gets p 6.2488, q 3.7446, v 15.4477.
    assert (fitted.p, fitted.q, fitted.v) == pytest.approx(tuple(reference.params_[["p", "q", "v"]]), rel=1e-5)
    assert fitted.customers == 946
    assert fitted.warnings == ()


def test_cdnow_raw_purchases_reproduce_published_estimates(cdnow_purchases):
    # Hardie's note and FHL (2005, "RFM and CLV") publish p = 6.25, q = 3.74, γ = 15.44 from unrounded means.
    summaries = summarise_customers(cdnow_purchases, CALIBRATION_END, now=NOW, tz=UTC_ZONE)
    x = [s.frequency for s in summaries.values()]
    cents = [s.monetary for s in summaries.values()]
    fitted = fit_gamma_gamma(x, cents)
    assert (round(fitted.p, 2), round(fitted.q, 2), round(fitted.v / 100, 2)) == (6.25, 3.74, 15.44)


def test_expected_spend_matches_lifetimes(fitted, reference, cdnow):
    ours = expected_spend(fitted, cdnow.x, cdnow.zbar)
    theirs = reference.conditional_expected_average_profit(cdnow.x, cdnow.zbar)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert ours[0] == pytest.approx(24.658619, rel=1e-5)  # customer 1 in lifetimes' documentation
    assert ours[cdnow.x == 0] == pytest.approx(fitted.population_mean)
    assert fitted.population_mean == pytest.approx(35.170981, rel=1e-5)


def test_expected_spend_shrinks_towards_population_mean():
    params = GammaGammaParams(p=6.0, q=4.0, v=15.0)
    spends = expected_spend(params, [1, 5, 50, 5000], [100.0] * 4)
    assert np.all(np.diff(spends) > 0) and spends[0] > params.population_mean == 30.0
    assert spends[-1] == pytest.approx(100.0, rel=1e-3)


def test_correlation_check(fitted):
    assert fitted.frequency_monetary_correlation == pytest.approx(0.113884, abs=1e-6)  # as lifetimes' docs report
    rng = np.random.default_rng(3)
    x = rng.integers(1, 20, 3000).astype(float)
    correlated = fit_gamma_gamma(x, simulate_spend(rng, x, 6.0, 4.0, 15.0) * x)
    assert correlated.frequency_monetary_correlation > 0.3
    assert any("correlate" in warning for warning in correlated.warnings)


def test_money_unit_only_rescales_v(fitted, cdnow):
    in_cents = fit_gamma_gamma(cdnow.x, cdnow.zbar * 100)
    assert in_cents.v == pytest.approx(fitted.v * 100, rel=1e-5)
    assert (in_cents.p, in_cents.q) == pytest.approx((fitted.p, fitted.q), rel=1e-5)


def test_weights_equal_repeated_rows_and_non_buyers_are_ignored(cdnow):
    x, m = cdnow.x[:800], cdnow.zbar[:800]
    counts = np.arange(800) % 3 + 1
    weighted = fit_gamma_gamma(x, m, weights=counts)
    repeated = fit_gamma_gamma(np.repeat(x, counts), np.repeat(m, counts))
    padded = fit_gamma_gamma(np.concatenate([np.repeat(x, counts), np.zeros(50)]),
                             np.concatenate([np.repeat(m, counts), np.zeros(50)]))
    for other in (repeated, padded):
        assert (weighted.p, weighted.q, weighted.v, weighted.log_likelihood) == pytest.approx(
            (other.p, other.q, other.v, other.log_likelihood), rel=1e-6)


def test_repeat_buyers_with_zero_spend_are_left_out_with_a_warning(cdnow):
    x = np.concatenate([cdnow.x, [2.0, 3.0]])
    m = np.concatenate([cdnow.zbar, [0.0, 0.0]])
    fitted = fit_gamma_gamma(x, m)
    assert fitted.customers == 946
    assert "2 repeat buyers whose repeat purchases were worth nothing were left out" in fitted.warnings


def test_recovers_simulated_parameters():
    rng = np.random.default_rng(2013)
    x = rng.integers(1, 8, 20_000).astype(float)
    fitted = fit_gamma_gamma(x, simulate_spend(rng, x, 6.0, 4.0, 1500.0))
    assert fitted.p == pytest.approx(6.0, rel=0.1) and fitted.q == pytest.approx(4.0, rel=0.1)
    assert fitted.population_mean == pytest.approx(3000.0, rel=0.05)


def test_infinite_mean_spend_fails_clearly():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 6, 5000).astype(float)
    with pytest.raises(ClvFitFailed) as failure:
        fit_gamma_gamma(x, simulate_spend(rng, x, 4.0, 0.8, 20.0))
    assert failure.value.code == "clv_fit_failed" and "q = " in failure.value.message
    assert "outliers" in failure.value.message


def test_too_few_repeat_buyers_fails_clearly():
    with pytest.raises(ClvFitFailed) as failure:
        fit_gamma_gamma([0, 3, 0], [0.0, 12.5, 0.0])
    assert "at least two repeat buyers" in failure.value.message


def test_negative_spend_is_refused():
    with pytest.raises(InvalidClvInput) as failure:
        fit_gamma_gamma([1, 2], [10.0, -3.0])
    assert "row 1" in failure.value.message and "refunds" in failure.value.message
