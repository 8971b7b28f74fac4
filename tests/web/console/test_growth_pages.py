"""The funnel, GMV, repurchase, value, attribution, staff performance and channel cost pages: the reports' numbers,
the charts, errors beside their fields, who may open and change what."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from analytics import growth_brand as gb
from siyu.analytics.funnel_spec import FunnelParams, parse_steps
from siyu.analytics.growth_reports import Where, funnel_report, gmv_report
from siyu.analytics import gmv

PERIOD = "from=2026-05-01&to=2026-06-29"
STEPS = "content_viewed,contact_added,order"
HX = {"HX-Request": "true"}
CUSTOMERS = re.compile(r'data-step="(\d)">.*?data-customers="(\d+)"', re.DOTALL)


@pytest.fixture
def growth(brand: Any, db_engine: Any, settings: Any) -> Any:
    gb.load(db_engine, settings)
    return Where(db_engine, settings)


def test_the_funnel_page_shows_the_reports_steps_and_breakdown(console: Any, growth: Where) -> None:
    params = FunnelParams(parse_steps(STEPS), date(2026, 5, 1), date(2026, 6, 29), 14 * 86400, "ordered", "channel_code")
    expected = funnel_report(growth, params)
    shell = console("ana").get(f"/analytics/funnel?steps={STEPS}&{PERIOD}&window=14d&breakdown=channel_code")
    assert shell.status_code == 200 and 'hx-get="/analytics/funnel/result?' in shell.text
    res = console("ana").get(f"/analytics/funnel/result?steps={STEPS}&{PERIOD}&window=14d&breakdown=channel_code",
                             headers=HX)
    assert res.status_code == 200
    top = res.text[:res.text.index('data-testid="funnel-breakdown"')]
    assert [int(n) for _, n in CUSTOMERS.findall(top)] == [s.customers for s in expected.steps]
    assert 'data-chart="funnel"' in res.text and 'data-chart="bars"' in res.text
    assert all(g.label in res.text for g in expected.breakdown or [])
    lost = expected.steps[0].customers - expected.steps[1].customers
    assert f'data-testid="dropped-2">{lost:,}</a>' in res.text


def test_dropped_customers_list_and_become_a_segment(console: Any, growth: Where) -> None:
    query = f"steps={STEPS}&{PERIOD}&window=14d&mode=ordered&step=3"
    ops = console("ops")
    page = ops.page(f"/analytics/funnel/dropped?{query}")
    assert page.status_code == 200 and 'data-testid="dropped-list"' in page.text and "/customers/" in page.text
    saved = ops.submit(f"/analytics/funnel/segment?{query}", {"name": "加微没下单"}, follow_redirects=False)
    assert saved.status_code == 303 and "saved=" in saved.headers["location"]
    again = ops.submit(f"/analytics/funnel/segment?{query}", {"name": "加微没下单"})
    assert again.status_code == 422 and "加微没下单" in again.text
    analyst = console("ana")
    assert 'data-testid="save-segment"' not in analyst.page(f"/analytics/funnel/dropped?{query}").text
    assert analyst.submit(f"/analytics/funnel/segment?{query}", {"name": "x"}).status_code == 403


@pytest.mark.parametrize("query, field", [
    (f"steps=content_viewed&{PERIOD}", "steps"),
    (f"steps={STEPS}&{PERIOD}&window=2w", "window"),
    (f"steps={STEPS}&from=2026-06-01&to=2026-05-01", "from"),
    (f"steps={STEPS}&from=2026-05-01&to=2099-01-01", "to"),
    (f"steps={STEPS}&{PERIOD}&mode=loose", "mode"),
])
def test_funnel_errors_stand_beside_their_field(console: Any, growth: Where, query: str, field: str) -> None:
    res = console("ana").get(f"/analytics/funnel?{query}")
    assert res.status_code == 422
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', res.text), res.text[:3000]


def test_the_gmv_page_draws_the_waterfall_of_the_reports_parts(console: Any, growth: Where) -> None:
    expected = gmv_report(growth, gmv.Period(date(2026, 6, 1), date(2026, 6, 29)))
    res = console("ops").get("/analytics/gmv/result?from=2026-06-01&to=2026-06-29", headers=HX)
    assert res.status_code == 200 and 'data-chart="waterfall"' in res.text
    parts = {f: Decimal(v) for f, v in re.findall(r'data-factor="(\w+)">.*?data-part="([-\d.]+)"', res.text, re.DOTALL)}
    assert parts == {p.factor: p.amount for p in expected.parts}
    assert sum(parts.values()) == Decimal(re.search(r'data-change="([-\d.]+)"', res.text).group(1)) == expected.change
    bad = console("ops").get("/analytics/gmv?from=2026-06-01&to=2026-06-29&base_from=2026-05-01")
    assert bad.status_code == 422 and re.search(r'name="base_to"[^>]*aria-invalid="true"', bad.text)


@pytest.mark.parametrize("slug, query, marker", [
    ("repurchase", PERIOD, "repurchase-table"),
    ("value", PERIOD, "value-table"),
    ("attribution", f"{PERIOD}&days=7", "attribution-table"),
    ("staff-performance", PERIOD, "导购fa"),
])
def test_the_simple_reports_render(console: Any, growth: Where, slug: str, query: str, marker: str) -> None:
    client = console("ana")
    assert client.get(f"/analytics/{slug}?{query}").status_code == 200
    res = client.get(f"/analytics/{slug}/result?{query}", headers=HX)
    assert res.status_code == 200 and marker in res.text and 'data-chart="bars"' in res.text
    assert client.get(f"/analytics/{slug}?from=2026-06-01&to=2026-05-01").status_code == 422


def test_staff_users_may_not_open_the_pages(console: Any) -> None:
    client = console("alice_u")
    for path in ("/analytics/funnel", "/analytics/gmv", "/analytics/repurchase", "/analytics/channel-costs"):
        assert client.get(path).status_code == 403


def test_costs_are_entered_listed_and_deleted(console: Any, growth: Where, brand: Any) -> None:
    ops = console("ops")
    ops.page("/analytics/channel-costs")
    bad = ops.submit("/analytics/channel-costs", {"channel_code_id": str(brand.code), "first_day": "2026-05-01",
                                                  "last_day": "2026-05-31", "amount": "12.345"})
    assert bad.status_code == 422 and re.search(r'name="amount"[^>]*aria-invalid="true"', bad.text)
    made = ops.submit("/analytics/channel-costs", {"channel_code_id": str(brand.code), "first_day": "2026-05-01",
                                                   "last_day": "2026-05-31", "amount": "310.00", "note": "海报"},
                      follow_redirects=False)
    assert made.status_code == 303
    listing = ops.page("/analytics/channel-costs").text
    assert "¥310.00" in listing and "海报" in listing
    cost_id = re.search(r'data-cost="(\d+)"', listing).group(1)
    assert console("ana").page("/analytics/channel-costs").status_code == 200
    assert ops.submit(f"/analytics/channel-costs/{cost_id}/delete", follow_redirects=False).status_code == 303
    assert "¥310.00" not in ops.page("/analytics/channel-costs").text
