"""CLV: discounted expected value against a reference built from lifetimes' predictions."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter

from siyu.analytics.clv import (
    InvalidClvInput,
    customer_values,
    expected_clv,
    expected_purchases,
    expected_spend,
    fen_to_yuan,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
)
from siyu.analytics.clv.value import DAYS_PER_MONTH, monthly_discount_rate

SAMPLE = slice(0, 2357, 17)


@pytest.fixture(scope="module")
def models(cdnow):
    cents = cdnow.zbar * 100
    return fit_bgnbd(cdnow.x, cdnow.t_x, cdnow.t), fit_gamma_gamma(cdnow.x, cents)


def test_clv_matches_a_reference_from_lifetimes(cdnow):
    x, t_x, t, cents = cdnow.x, cdnow.t_x, cdnow.t, cdnow.zbar * 100
    bgf = BetaGeoFitter(penalizer_coef=0.0).fit(x, t_x, t)
    ggf = GammaGammaFitter(penalizer_coef=0.0).fit(x[x > 0], cents[x > 0])
    ours = expected_clv(fit_bgnbd(x, t_x, t), fit_gamma_gamma(x, cents), x[SAMPLE], t_x[SAMPLE], t[SAMPLE],
                        cents[SAMPLE], time_unit="week", months=12, annual_discount_rate=0.12)
    month, monthly = DAYS_PER_MONTH / 7, 1.12 ** (1 / 12)
    spend = ggf.conditional_expected_average_profit(x[SAMPLE], cents[SAMPLE])
    reference = np.zeros(ours.size)
    for i in range(1, 13):
        purchases = [bgf.conditional_expected_number_of_purchases_up_to_time(k * month, x[SAMPLE], t_x[SAMPLE],
                                                                            t[SAMPLE]) for k in (i, i - 1)]
        reference += (purchases[0] - purchases[1]) * spend / monthly**i
    np.testing.assert_allclose(ours, reference, rtol=2e-3)


def test_without_discount_clv_is_expected_purchases_times_spend(models, cdnow):
    bgnbd, gamma_gamma = models
    x, t_x, t, cents = cdnow.x[SAMPLE], cdnow.t_x[SAMPLE], cdnow.t[SAMPLE], cdnow.zbar[SAMPLE] * 100
    undiscounted = expected_clv(bgnbd, gamma_gamma, x, t_x, t, cents, time_unit="week", months=6,
                                annual_discount_rate=0.0)
    horizon = 6 * DAYS_PER_MONTH / 7
    np.testing.assert_allclose(undiscounted, expected_purchases(bgnbd, horizon, x, t_x, t)
                               * expected_spend(gamma_gamma, x, cents), rtol=1e-12)
    discounted = expected_clv(bgnbd, gamma_gamma, x, t_x, t, cents, time_unit="week", months=6)
    longer = expected_clv(bgnbd, gamma_gamma, x, t_x, t, cents, time_unit="week", months=24)
    assert np.all(discounted < undiscounted) and np.all(longer > discounted)


def test_time_unit_converts_months(models, cdnow):
    bgnbd, gamma_gamma = models
    x, t_x, t, cents = cdnow.x[SAMPLE], cdnow.t_x[SAMPLE], cdnow.t[SAMPLE], cdnow.zbar[SAMPLE] * 100
    weekly = expected_clv(bgnbd, gamma_gamma, x, t_x, t, cents, time_unit="week")
    daily_model = fit_bgnbd(cdnow.x, cdnow.t_x * 7, cdnow.t * 7)
    daily = expected_clv(daily_model, gamma_gamma, x, t_x * 7, t * 7, cents, time_unit="day")
    np.testing.assert_allclose(daily, weekly, rtol=1e-3)


def test_customer_values_round_money_to_yuan(models, cdnow):
    bgnbd, gamma_gamma = models
    x, t_x, t, cents = cdnow.x[:3], cdnow.t_x[:3], cdnow.t[:3], cdnow.zbar[:3] * 100
    values = customer_values(bgnbd, gamma_gamma, x, t_x, t, cents, time_unit="week", months=12)
    clv = expected_clv(bgnbd, gamma_gamma, x, t_x, t, cents, time_unit="week", months=12)
    alive = probability_alive(bgnbd, x, t_x, t)
    for value, fen, p_alive in zip(values, clv, alive):
        assert isinstance(value.clv, Decimal) and value.clv.as_tuple().exponent == -2
        assert abs(value.clv - Decimal(repr(float(fen))) / 100) <= Decimal("0.005")
        assert value.probability_alive == p_alive
    assert values[0].expected_spend == Decimal("24.66")  # 24.6586 dollars: lifetimes' documented value
    assert values[0].to_dict()["clv"] == str(values[0].clv)


def test_fen_to_yuan_rounds_half_up():
    assert fen_to_yuan(12345.5) == Decimal("123.46")
    assert fen_to_yuan(12345.4999) == Decimal("123.45")
    assert fen_to_yuan(0.0) == Decimal("0.00")
    with pytest.raises(InvalidClvInput):
        fen_to_yuan(float("nan"))


def test_monthly_discount_rate_compounds_to_the_annual_rate():
    assert (1 + monthly_discount_rate(0.12)) ** 12 == pytest.approx(1.12, rel=1e-12)
    assert monthly_discount_rate(0.0) == 0.0
    with pytest.raises(InvalidClvInput):
        monthly_discount_rate(-0.1)


@pytest.mark.parametrize("months", [0, 121, 1.5, True])
def test_bad_horizon_is_refused(models, months):
    bgnbd, gamma_gamma = models
    with pytest.raises(InvalidClvInput) as failure:
        expected_clv(bgnbd, gamma_gamma, [1], [1.0], [2.0], [100.0], time_unit="week", months=months)
    assert "months" in failure.value.message
