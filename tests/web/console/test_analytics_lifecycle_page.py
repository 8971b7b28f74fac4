"""The lifecycle page: the service's tiers, and new vs returning per period equal to lifecycle's own split."""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any

from web.console.analytics_brand import AS_OF, buyers, service  # noqa: F401 - buyers is a fixture

from siyu.analytics import lifecycle
from siyu.analytics.rfm import RfmParams

TIER = re.compile(r'data-tier="(\w+)">.*?data-customers="(\d+)"', re.DOTALL)
PERIOD = re.compile(r'data-period="([\d-]+)" data-new="(\d+)" data-returning="(\d+)"')
BASE = f"/analytics/lifecycle/result?as_of={AS_OF}&window_days=365&unit=month&periods=8"



def test_the_page_shows_the_services_tiers(console: Any, buyers: None, db_engine: Any, settings: Any) -> None:
    expected = service(db_engine, settings, lambda f: lifecycle.compute(f, RfmParams(AS_OF, 365), settings.tz))
    html = console("ana").get(BASE).text
    assert {tier: int(n) for tier, n in TIER.findall(html)} == expected.tiers and sum(expected.tiers.values()) > 20
    assert f'data-kpi="new"><div class="kpi-name">' in html and 'data-chart="bars"' in html


def test_new_vs_returning_per_month_is_lifecycles_split_with_the_month_as_window(
        console: Any, buyers: None, db_engine: Any, settings: Any) -> None:
    shown = PERIOD.findall(console("ana").get(BASE).text)
    assert [first for first, _n, _r in shown] == [f"2025-{m:02d}-01" for m in range(6, 13)] + ["2026-01-01"]
    windows = []
    for first, _new, _back in shown:
        start = date.fromisoformat(first)
        last = min(date(start.year, start.month, calendar.monthrange(start.year, start.month)[1]), AS_OF)
        windows.append(RfmParams(last, (last - start).days + 1))
    expected = service(db_engine, settings, lambda f: [lifecycle.compute(f, p, settings.tz) for p in windows])
    assert [(int(n), int(r)) for _f, n, r in shown] == [(e.new_buyers, e.returning_buyers) for e in expected]
    assert any(int(n) for _f, n, _r in shown) and any(int(r) for _f, _n, r in shown)


def test_weeks_end_with_the_as_of_days_week(console: Any, buyers: None) -> None:
    shown = PERIOD.findall(console("ana").get(BASE.replace("unit=month&periods=8", "unit=week&periods=3")).text)
    assert [first for first, _n, _r in shown] == ["2026-01-12", "2026-01-19", "2026-01-26"]  # Mondays
