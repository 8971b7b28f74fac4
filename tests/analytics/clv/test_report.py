"""Calibration/holdout report on CDNOW (weeks 1-39 calibration, 40-78 holdout), checked against lifetimes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from lifetimes import BetaGeoFitter

from siyu.analytics.clv import (
    InvalidClvInput,
    calibration_report,
    count_holdout_purchases,
    fit_bgnbd,
    summarise_customers,
)
from analytics.clv.cdnow import CALIBRATION_END, HOLDOUT_END, NOW, UTC_ZONE

HOLDOUT_WEEKS = (HOLDOUT_END - CALIBRATION_END).days / 7


@pytest.fixture(scope="module")
def data(cdnow_purchases):
    summaries = summarise_customers(cdnow_purchases, CALIBRATION_END, now=NOW, tz=UTC_ZONE, time_unit="week")
    ids = sorted(summaries)
    x = np.array([summaries[i].frequency for i in ids], dtype=float)
    t_x = np.array([summaries[i].recency for i in ids])
    t = np.array([summaries[i].age for i in ids])
    holdout = np.array([count_holdout_purchases(cdnow_purchases[i], CALIBRATION_END, HOLDOUT_END, now=NOW,
                                                tz=UTC_ZONE) for i in ids])
    return x, t_x, t, holdout


@pytest.fixture(scope="module")
def report(data):
    x, t_x, t, holdout = data
    return calibration_report(fit_bgnbd(x, t_x, t), x, t_x, t, holdout, holdout_length=HOLDOUT_WEEKS,
                              time_unit="week")


def test_holdout_rows_match_lifetimes_and_direct_counts(report, data):
    x, t_x, t, holdout = data
    bgf = BetaGeoFitter(penalizer_coef=0.0).fit(x, t_x, t)
    predicted = np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(HOLDOUT_WEEKS, x, t_x, t))
    assert [row.frequency for row in report.holdout] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    for index, row in enumerate(report.holdout):
        members = (x == index) if index < 7 else (x >= 7)
        assert row.customers == int(members.sum())
        assert row.actual_total == int(holdout[members].sum())
        assert row.actual_mean == pytest.approx(holdout[members].mean())
        assert row.predicted_total == pytest.approx(predicted[members].sum(), rel=1e-3)
        assert row.predicted_mean == pytest.approx(predicted[members].mean(), rel=1e-3)
    assert report.customers == 2357 == sum(row.customers for row in report.holdout)
    assert report.actual_total == int(holdout.sum()) == sum(row.actual_total for row in report.holdout)
    assert report.predicted_total == pytest.approx(sum(row.predicted_total for row in report.holdout))


def test_model_tracks_the_holdout(report):
    # On CDNOW the model forecasts 1,653 purchase days in weeks 40-78 against 1,882 actual, ranks the
    # frequency groups in order, and fits the calibration counts closely (1,408 expected non-repeaters, 1,411 seen).
    assert report.actual_total == 1882
    assert report.predicted_total == pytest.approx(1653.4, abs=0.5)
    predicted = [row.predicted_mean for row in report.holdout]
    assert predicted == sorted(predicted)
    assert report.frequency_fit[0].expected_customers == pytest.approx(1411, rel=0.01)


def test_frequency_fit_matches_lifetimes(report, data):
    x, t_x, t, _ = data
    bgf = BetaGeoFitter(penalizer_coef=0.0).fit(x, t_x, t)
    ages, counts = np.unique(t, return_counts=True)
    for index, row in enumerate(report.frequency_fit[:-1]):
        expected = sum(c * bgf.probability_of_n_purchases_up_to_time(age, index) for age, c in zip(ages, counts))
        assert row.expected_customers == pytest.approx(expected, rel=1e-3)
        assert row.actual_customers == int((x == index).sum())
    top = report.frequency_fit[-1]
    assert top.frequency == "7+" and top.actual_customers == int((x >= 7).sum())
    assert sum(row.expected_customers for row in report.frequency_fit) == pytest.approx(2357)
    assert top.expected_customers > 0


def test_report_serialises_to_json(report):
    data = json.loads(report.to_json())
    assert data["time_unit"] == "week" and data["holdout_length"] == 39.0
    assert data["params"]["r"] == report.params.r and data["params"]["warnings"] == []
    assert len(data["holdout"]) == 8 and data["holdout"][0]["frequency"] == "0"
    assert set(data["frequency_fit"][0]) == {"frequency", "actual_customers", "expected_customers"}


@pytest.mark.parametrize(("holdout", "kwargs", "fragment"), [
    ([1, 0], {}, "one whole number"),
    ([1, -1, 0], {}, "one whole number"),
    ([1, 0, 0], {"top_frequency": 0}, "top frequency"),
    ([1, 0, 0], {"holdout_length": 0.0}, "holdout length"),
])
def test_bad_report_inputs_are_refused(report, holdout, kwargs, fragment):
    arguments = {"holdout_length": 10.0, "time_unit": "week", **kwargs}
    with pytest.raises(InvalidClvInput) as failure:
        calibration_report(report.params, [0, 1, 2], [0.0, 1.0, 2.0], [3.0, 3.0, 3.0], holdout, **arguments)
    assert fragment in failure.value.message
