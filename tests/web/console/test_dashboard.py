"""The dashboard: figures of a period against the one before, and every figure's link to its customers.

The console's test brand is extended here with a customer who is lost from the private domain (deletes
the staff member and leaves the only group), a group leaver who stays followed, and a repeat order.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from factories import at, make_customer, make_event, make_group_membership, make_identity, make_order, make_ownership
from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.identity import Identity
from siyu.domains.staff import behavior
from siyu.domains.staff.models import Ownership, Staff
from siyu.kit.time import utcnow

DAY = {"from": "2026-01-01", "to": "2026-01-01"}  # every fact of the test brand happened that day (Shanghai)
LINK = re.compile(r'<a [^>]*href="(/customers\?[^"]*)" data-people="(\d+)"')
ROW = re.compile(r'data-customer-id="\d+"')
MORE = re.compile(r'href="(/customers\?[^"]*cursor=[^"]*)"[^>]*data-testid="more-customers"')


@pytest.fixture
def lost(brand, db_engine: Engine, vault) -> int:
    """王五 adds bob and joins a group, then deletes bob and leaves: lost; 李四 leaves a group, still followed."""
    with unit_of_work(db_engine) as s:
        bob = s.get(Staff, brand.bob)
        wang = make_customer(s, vault, name="王五", first_seen_at=at(20), source_platform="douyin")
        wecom = make_identity(s, vault, wang.id, "external_userid", "wmWang0001")
        relation = make_ownership(s, wecom, bob, added_at=at(30))
        relation.removed_at, relation.removed_by = at(300), "customer"
        make_group_membership(s, wecom, "chatA", left=True)  # joined at T0, left at(10)
        li = s.scalars(select(Identity).where(Identity.customer_id == brand.li,
                                             Identity.kind == "external_userid")).one()
        make_group_membership(s, li, "chatA", left=True)
        make_group_membership(s, li, "chatB")
        return wang.id


def _kpis(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-kpi="(\w+)">\s*<div class="kpi-name">[^<]*</div>\s*<div class="kpi-value">([^<]*)<',
                           html))


def _links(html: str) -> list[tuple[str, int]]:
    """Return every (link to the customers list, customers it says it opens) of the page, charts included."""
    found = [(unescape(href), int(n)) for href, n in LINK.findall(html)]
    for source in re.findall(r'<script type="application/json" id="chart-\w+">(.*?)</script>', html, re.DOTALL):
        for series in json.loads(source)["series"]:
            found += [(link, n) for link, n in zip(series.get("links", []), series.get("people", [])) if link]
    return found


def _listed(client, url: str) -> int:
    """Return how many customers the list at ``url`` shows, following "load more" to the end."""
    count = 0
    while url:
        res = client.get(url)
        assert res.status_code == 200, (url, res.status_code)
        count += len(ROW.findall(res.text))
        more = MORE.search(res.text)
        url = unescape(more.group(1)) if more else ""
    return count


def test_figures_of_a_day(console, brand, lost) -> None:
    res = console("ana").get("/dashboard", params=DAY)
    assert res.status_code == 200
    assert _kpis(res.text) == {
        "private": "3", "entered": "4", "lost": "1", "net": "3", "new_customers": "4", "added": "4", "deleted": "1",
        "group_left": "2", "active_rate": "33.3%", "conversion": "33.3%", "repurchase": "0.0%", "gmv": "¥199.00",
        "per_customer": "¥199.00", "aov": "¥199.00", "paid_orders": "1"}
    assert "对比上一周期 2025-12-31 至 2025-12-31" in res.text


def test_every_link_opens_exactly_the_customers_it_counts(console, brand, lost) -> None:
    client = console("admin")
    html = client.get("/dashboard", params=DAY).text
    links = _links(html)
    kinds = {re.search(r"activity=(\w+)", url).group(1) if "activity=" in url else url.split("?")[1].split("=")[0]
             for url, _ in links}
    assert kinds >= {"connected", "entered", "lost", "contact_added", "contact_deleted", "group_joined", "group_left",
                     "active", "ordered", "added_from", "owner", "group", "source"}, kinds
    assert len(links) >= 30
    for url, people in links:
        assert _listed(client, url) == people, url
    lost_link = next(url for url, _ in links if "activity=lost" in url)
    assert f'data-customer-id="{lost}"' in client.get(lost_link).text  # 王五, by id


def test_links_of_a_busier_period_against_the_period_before(console, brand, lost, db_engine: Engine, vault) -> None:
    now = utcnow()
    with unit_of_work(db_engine) as s:
        phone = s.scalars(select(Identity).where(Identity.customer_id == brand.li, Identity.kind == "phone")).one()
        make_order(s, phone, 10000, placed_at=now - timedelta(days=40))  # the period before the last 30 days
        make_order(s, phone, 30000, placed_at=now - timedelta(days=2))
        make_order(s, phone, 20000, placed_at=now - timedelta(days=1))
        make_event(s, phone, occurred_at=now - timedelta(days=3))
        relation = s.scalars(select(Ownership).where(Ownership.staff_id == brand.bob,
                                                     Ownership.removed_at.is_(None))).one()
        relation.removed_at, relation.removed_by = now - timedelta(days=3), "customer"  # li keeps chatB: not lost
    client = console("ops")
    html = client.get("/dashboard").text  # the last 30 days
    kpis = _kpis(html)
    assert (kpis["gmv"], kpis["paid_orders"], kpis["repurchase"], kpis["aov"]) == ("¥500.00", "2", "100.0%", "¥250.00")
    assert (kpis["deleted"], kpis["lost"], kpis["private"]) == ("1", "0", "3")
    gmv_card = re.search(r'data-kpi="gmv">.*?kpi-link', html, re.DOTALL).group(0)
    assert "上期 ¥100.00" in gmv_card and "+400.0%" in gmv_card
    chart = json.loads(re.search(r'id="chart-gmv">(.*?)</script>', html, re.DOTALL).group(1))
    assert len(chart["days"]) == 30 and sum(float(v) for v in chart["series"][0]["data"]) == 500.0
    assert sum(1 for link in chart["series"][0]["links"] if link) == 2  # the two days with paid orders
    for url, people in _links(html):
        assert _listed(client, url) == people, url


def test_boards_link_to_their_customers(console, brand, lost) -> None:
    html = console("admin").get("/dashboard", params=DAY).text
    code = f"/customers?activity=contact_added&amp;activity_from=2026-01-01&amp;activity_to=2026-01-01&amp;activity_code={brand.code}"
    assert f'href="{code}" data-people="1">1<' in html  # 张三 came through the code
    assert 'activity_code=-" data-people="3">3<' in html  # 李四, the markup customer, 王五 came without one
    assert 'href="/customers?source=store&amp;added_from=2026-01-01&amp;added_to=2026-01-01" data-people="1">1<' in html
    assert 'href="/customers?owner=alice" data-people="2">2<' in html  # alice follows two now
    assert 'activity=contact_deleted&amp;activity_from=2026-01-01&amp;activity_to=2026-01-01&amp;activity_staff=bob" ' \
           'data-people="1">1<' in html


def test_leaderboard_shows_response_against_the_period_before(console, brand, lost, db_engine: Engine, settings) -> None:
    day, tz = date(2026, 1, 1), settings.tz
    figures = {day: (10, "90.00", 4), day - timedelta(days=1): (20, "75.50", 9)}
    with unit_of_work(db_engine) as s:
        behavior.record_behavior(s, "alice", [behavior.BehaviorDay(behavior.stat_time(d, tz), chats, chats * 3,
                                                                   Decimal(pct), minutes, 0, 0, 0)
                                              for d, (chats, pct, minutes) in figures.items()], tz)
        behavior.record_behavior(s, "bob", [behavior.BehaviorDay(behavior.stat_time(day, tz), 30, 60,
                                                                 Decimal("50.00"), 20, 0, 0, 0)], tz)
    html = console("ops").get("/dashboard", params=DAY).text
    board = re.search(r'data-testid="leaders">.*?</section>', html, re.DOTALL).group(0)
    rows = {name: row for name, row in re.findall(r'<a href="/staff/\d+">(\w+)</a>(.*?)</tr>', board, re.DOTALL)}
    rates = {name: re.findall(r'data-rate="[^"]+">([^<]*)', row) for name, row in rows.items()}
    assert [r.strip() for r in rates["Alice"]] == ["90.0%", "4.0 分钟"]
    assert "上期 75.5%" in rows["Alice"] and "上期 9.0 分钟" in rows["Alice"]
    assert [r.strip() for r in rates["Bob"]] == ["50.0%", "20.0 分钟"] and "上期" not in rows["Bob"]


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
