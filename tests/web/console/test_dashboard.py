"""The dashboard: figures of a period against the one before, checked against the brand built by hand."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from factories import make_order
from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.identity import Identity
from siyu.domains.staff.models import Ownership
from siyu.kit.time import utcnow

DAY = {"from": "2026-01-01", "to": "2026-01-01"}  # every fact of the test brand happened that day (Shanghai)


def _kpis(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-kpi="(\w+)">\s*<div class="kpi-name">[^<]*</div>\s*<div class="kpi-value">([^<]*)<',
                           html))


def test_figures_of_a_day(console, brand) -> None:
    res = console("ana").get("/dashboard", params=DAY)
    assert res.status_code == 200
    assert _kpis(res.text) == {
        "private": "3", "new_customers": "3", "new": "3", "lost": "0", "net": "3", "active_rate": "33.3%",
        "conversion": "33.3%", "repurchase": "0.0%", "gmv": "¥199.00", "per_customer": "¥199.00", "aov": "¥199.00",
        "paid_orders": "1", "group_leaves": "0"}
    assert 'href="/customers?added_from=2026-01-01&amp;added_to=2026-01-01"' in res.text
    assert "对比上一周期 2025-12-31 至 2025-12-31" in res.text


def test_comparison_with_the_period_before(console, brand, db_engine: Engine, vault) -> None:
    now = utcnow()
    with unit_of_work(db_engine) as s:
        phone = s.scalars(select(Identity).where(Identity.customer_id == brand.li, Identity.kind == "phone")).one()
        make_order(s, phone, 10000, placed_at=now - timedelta(days=40))  # the period before the last 30 days
        make_order(s, phone, 30000, placed_at=now - timedelta(days=2))
        make_order(s, phone, 20000, placed_at=now - timedelta(days=1))
        relation = s.scalars(select(Ownership).where(Ownership.staff_id == brand.bob)).one()
        relation.removed_at, relation.removed_by = now - timedelta(days=3), "customer"
    html = console("ops").get("/dashboard").text  # the last 30 days
    kpis = _kpis(html)
    assert (kpis["gmv"], kpis["paid_orders"], kpis["repurchase"], kpis["aov"]) == ("¥500.00", "2", "100.0%", "¥250.00")
    assert (kpis["lost"], kpis["private"]) == ("1", "2")
    gmv_card = re.search(r'data-kpi="gmv">.*?</div>\s*</div>', html, re.DOTALL).group(0)
    assert "上期 ¥100.00" in gmv_card and "+400.0%" in gmv_card
    chart = json.loads(re.search(r'id="chart-gmv">(.*?)</script>', html, re.DOTALL).group(1))
    assert len(chart["days"]) == 30 and sum(chart["series"][0]["data"]) == 500.0


def test_boards_link_to_their_customers(console, brand) -> None:
    html = console("admin").get("/dashboard", params=DAY).text
    assert f'href="/customers?channel_code={brand.code}"' in html  # new contacts by channel code
    assert 'href="/customers?source=store&amp;added_from=2026-01-01&amp;added_to=2026-01-01">1<' in html
    assert 'href="/customers?owner=alice">2<' in html  # staff leaderboard: alice follows two now


def test_bad_period_shows_the_error_and_the_default_period(console) -> None:
    client = console("ops")
    backwards = client.get("/dashboard", params={"from": "2026-02-01", "to": "2026-01-01"})
    garbage = client.get("/dashboard", params={"from": "yesterday"})
    assert (backwards.status_code, garbage.status_code) == (422, 422)
    assert 'data-field="to">结束日期不能早于开始日期' in backwards.text
    assert 'data-field="from">日期格式应为' in garbage.text


def test_dashboard_is_home_for_roles_that_may_see_it(console) -> None:
    assert console("ana").get("/", follow_redirects=False).headers["location"] == "/dashboard"
    assert console("alice_u").get("/dashboard").status_code == 403
