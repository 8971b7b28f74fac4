"""Customers list and the 360 page: search, filters, paging, staff scoping, escaping."""

from __future__ import annotations

import re

from factories import make_customer, make_tag
from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.orders.models import Order, OrderItem
from siyu.kit.crypto import PiiVault
from web.console.conftest import XSS_NAME

ROW = re.compile(r'<tr data-customer-id="(\d+)">')


def _ids(html: str) -> list[int]:
    return [int(i) for i in ROW.findall(html)]


def test_list_shows_customers_newest_first_with_masked_names(console, brand) -> None:
    res = console("ops").get("/customers")
    assert res.status_code == 200
    assert _ids(res.text) == [brand.xss, brand.li, brand.zhang]
    assert "张*" in res.text and "张三" not in res.text


def test_search_by_phone_name_and_identity(console, brand) -> None:
    client = console("ops")
    assert _ids(client.get("/customers", params={"q": "138 1234 5678"}).text) == [brand.zhang]
    assert _ids(client.get("/customers", params={"q": "+86 139-1234-5678"}).text) == [brand.li]
    assert _ids(client.get("/customers", params={"q": "李四"}).text) == [brand.li]
    assert _ids(client.get("/customers", params={"q": "external_userid:wmZhang001"}).text) == [brand.zhang]
    none = client.get("/customers", params={"q": "王五"})
    assert _ids(none.text) == [] and 'data-testid="no-customers"' in none.text


def test_filters_by_owner_tag_code_source_and_dates(console, brand) -> None:
    client = console("ops")
    assert _ids(client.get("/customers", params={"owner": "alice"}).text) == [brand.xss, brand.zhang]
    assert _ids(client.get("/customers", params={"tag": "VIP"}).text) == [brand.zhang]
    assert _ids(client.get("/customers", params={"channel_code": str(brand.code)}).text) == [brand.zhang]
    assert _ids(client.get("/customers", params={"source": "store"}).text) == [brand.zhang]
    # first_seen: zhang 2026-01-01 08:00 Shanghai, li 09:40, xss 11:20; "to" includes its day
    day = client.get("/customers", params={"added_from": "2026-01-01", "added_to": "2026-01-01"})
    assert _ids(day.text) == [brand.xss, brand.li, brand.zhang]
    assert _ids(client.get("/customers", params={"added_from": "2026-01-02"}).text) == []


def test_bad_filters_show_errors_beside_their_fields(console) -> None:
    client = console("ops")
    bad_date = client.get("/customers", params={"added_from": "31/01/2026"})
    bad_kind = client.get("/customers", params={"q": "nosuchkind:123"})
    assert (bad_date.status_code, bad_kind.status_code) == (422, 422)
    assert 'data-field="added_from">日期格式应为 2026-01-31' in bad_date.text
    assert 'data-field="q">' in bad_kind.text


def test_keyset_paging_loads_the_next_rows(console, db_engine: Engine, vault: PiiVault, brand) -> None:
    with unit_of_work(db_engine) as s:
        extra = [make_customer(s, vault, name=f"客户{i}").id for i in range(55)]
    client = console("ops")
    first = client.get("/customers")
    assert _ids(first.text) == sorted(extra, reverse=True)[:50]
    more = re.search(r'hx-get="(/customers\?[^"]+)"', first.text)
    assert more
    rows = client.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert _ids(rows.text) == [*sorted(extra, reverse=True)[50:], brand.xss, brand.li, brand.zhang]
    assert "<html" not in rows.text  # a fragment of rows, not a page


def test_staff_see_only_the_customers_they_follow(console, brand) -> None:
    alice = console("alice_u")
    assert _ids(alice.get("/customers").text) == [brand.xss, brand.zhang]
    assert alice.get(f"/customers/{brand.zhang}").status_code == 200
    other = alice.get(f"/customers/{brand.li}")
    assert other.status_code == 404 and "找不到这个客户" in other.text
    assert _ids(alice.get("/customers", params={"q": "13912345678"}).text) == []


def test_360_page_shows_the_whole_customer(console, brand) -> None:
    res = console("admin").get(f"/customers/{brand.zhang}")
    assert res.status_code == 200
    for text in ("张三", "13812345678", "wmZhang001", "Alice", "门店海报", "VIP", "SO-1", "¥199.00", "浏览内容",
                 'data-chart="identity-graph"'):
        assert text in res.text, text


def test_360_page_masks_pii_for_users_without_the_right(console, brand) -> None:
    res = console("ops").get(f"/customers/{brand.zhang}")
    assert "13812345678" not in res.text and "138****5678" in res.text
    assert "张三" not in res.text


def test_staff_360_has_no_merge_graph_or_actions(console, brand) -> None:
    res = console("alice_u").get(f"/customers/{brand.zhang}")
    assert res.status_code == 200
    assert "identity-graph" not in res.text and "/unmerge" not in res.text and "/merge" not in res.text


def test_customer_name_and_tags_render_inert(console, brand) -> None:
    listing = console("admin").get("/customers")
    page = console("admin").get(f"/customers/{brand.xss}")
    for html in (listing.text, page.text):
        assert "<script>alert(1)</script>" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text
    assert XSS_NAME not in page.text


def test_unknown_and_malformed_ids_answer_html_errors(console) -> None:
    client = console("ops")
    missing = client.get("/customers/999999")
    malformed = client.get("/customers/abc")
    assert (missing.status_code, malformed.status_code) == (404, 422)
    assert missing.headers["content-type"].startswith("text/html")
    assert 'data-testid="error-page"' in malformed.text


def test_console_pages_send_security_headers(console) -> None:
    res = console("ops").get("/customers")
    assert "script-src 'self'" in res.headers["content-security-policy"]
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.headers["cache-control"] == "no-store"


def test_console_routes_stay_out_of_the_api_schema(app) -> None:
    paths = app.openapi()["paths"]
    assert all(p.startswith("/api/v1") or p == "/healthz" for p in paths)


def test_rows_show_owners_and_tags_including_merged_records(console, brand, db_engine: Engine,
                                                            vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        make_tag(s, make_customer(s, vault, merged_into_id=brand.zhang), "老客")
    html = console("ops").get("/customers").text
    zhang = re.search(rf'<tr data-customer-id="{brand.zhang}">.*?</tr>', html, re.DOTALL).group(0)
    li = re.search(rf'<tr data-customer-id="{brand.li}">.*?</tr>', html, re.DOTALL).group(0)
    assert 'data-label="归属员工">Alice<' in zhang and 'data-label="归属员工">Bob<' in li
    assert re.findall(r'<span class="chip small">([^<]*)</span>', zhang) == ["VIP", "老客"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_order_page_shows_lines_and_history_within_the_customers_scope(console, brand, db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        order = s.scalars(select(Order).where(Order.order_id == "SO-1")).one()
        s.add(OrderItem(order_pk=order.id, sku="TEA-01", name=XSS_NAME, category="tea", quantity=2,
                        unit_price_fen=9950, amount_fen=19900))
    admin = console("admin")
    assert '/customers/%d/orders/SO-1"' % brand.zhang in admin.get(f"/customers/{brand.zhang}").text
    res = admin.get(f"/customers/{brand.zhang}/orders/SO-1")
    assert res.status_code == 200
    for text in ("SO-1", "TEA-01", "¥99.50", "¥199.00", "已支付", "&lt;script&gt;"):
        assert text in res.text, text
    assert XSS_NAME not in res.text
    assert console("alice_u").get(f"/customers/{brand.zhang}/orders/SO-1").status_code == 200
    assert console("bob_u").get(f"/customers/{brand.zhang}/orders/SO-1").status_code == 404  # not bob's customer
    assert admin.get(f"/customers/{brand.li}/orders/SO-1").status_code == 404  # not li's order
    assert admin.get(f"/customers/{brand.zhang}/orders/NOPE").status_code == 404
