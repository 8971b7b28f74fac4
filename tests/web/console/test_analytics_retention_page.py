"""The retention page: the service's triangle for every control (refusals: test_analytics_refusals.py)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from web.console.analytics_brand import AS_OF, buyers, service  # noqa: F401 - buyers is a fixture

from siyu.analytics import retention

ROW = re.compile(r'<tr data-cohort="([\d-]+)" data-size="(\d+)">(.*?)</tr>', re.DOTALL)
CELL = re.compile(r'class="heat-(\d+)" data-k="(\d+)" data-n="(\d+)">([\d.]+)%')
CASES = {
    "months by first order": ("unit=month&periods=6", retention.RetentionParams(date(2025, 6, 1), AS_OF, "month", 6)),
    "weeks by join date, on views": (
        "unit=week&periods=8&cohort_by=joined&activity=events&events=content_viewed, content_clicked",
        retention.RetentionParams(date(2025, 6, 1), AS_OF, "week", 8, "joined", ("content_viewed", "content_clicked"))),
    "recurring months": ("unit=month&periods=4&mode=recurring",
                         retention.RetentionParams(date(2025, 6, 1), AS_OF, "month", 4, mode="recurring")),
}



def triangle(html: str) -> list[dict[str, Any]]:
    """Return the cohorts the page shows: first day, size, retained per period (with share and colour step)."""
    out = []
    for first, size, cells in ROW.findall(html):
        found = CELL.findall(cells)
        assert [int(k) for _h, k, _n, _p in found] == list(range(len(found)))
        out.append({"cohort": date.fromisoformat(first), "size": int(size), "retained": [int(n) for _h, _k, n, _p in found],
                    "shown": [(int(h), float(p)) for h, _k, _n, p in found]})
    return out


@pytest.mark.parametrize("case", CASES)
def test_the_triangle_is_the_services(console: Any, buyers: None, db_engine: Any, settings: Any, case: str) -> None:
    query, params = CASES[case]
    expected = service(db_engine, settings, lambda f: retention.compute(f, params, settings.tz))
    res = console("ana").get(f"/analytics/retention/result?from=2025-06-01&to={AS_OF}&{query}")
    assert res.status_code == 200
    shown = triangle(res.text)
    assert [{k: c[k] for k in ("cohort", "size", "retained")} for c in shown] == expected.cohorts
    assert len(expected.cohorts) >= 4 and any(sum(c["retained"][1:]) for c in expected.cohorts)
    for cohort in shown:  # percentages of the cohort, coloured by tenths
        for n, (step, percent) in zip(cohort["retained"], cohort["shown"], strict=True):
            assert Decimal(str(percent)) == (Decimal(n * 100) / cohort["size"]).quantize(Decimal("0.1"))
            assert step == min(10, int(n * 10 / cohort["size"] + 0.5))
    assert 'data-chart="bars"' in res.text


def test_the_default_is_twelve_weeks_by_first_order(console: Any, buyers: None) -> None:
    html = console("ana").get("/analytics/retention").text
    assert 'name="unit"' in html and '<option value="week" selected>' in html
    assert '<option value="first_order" selected>' in html and 'name="periods" value="12"' in html
