"""The console in a real browser: login, customers, the 360 page, tags and notes, language, staff scoping."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Page, expect
from web.browser.conftest import SECRET, expect_http_error
from web.browser.helpers import (
    Server,
    customer_not_followed_by,
    followed_contact,
    login,
    phone_customer,
    screenshot,
)

pytestmark = pytest.mark.browser
XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_admin_logs_in_searches_by_phone_and_opens_the_360_page(page: Page, console_server: Server) -> None:
    customer_id, phone = phone_customer(console_server, SECRET)
    login(page, console_server, "admin", "/customers")
    expect(page).to_have_url(f"{console_server.url}/customers")
    expect(page.get_by_test_id("customer-table")).to_be_visible()
    screenshot(page, "customers-list")
    page.fill("input[name=q]", phone)
    page.click("form[data-testid=customer-search] button[type=submit]")
    rows = page.locator("#customer-rows tr[data-customer-id]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-customer-id", str(customer_id))
    rows.first.locator("a.customer-name").click()
    expect(page).to_have_url(f"{console_server.url}/customers/{customer_id}")
    expect(page.get_by_test_id("identities")).to_contain_text(phone)  # admins may read PII
    expect(page.locator("[data-chart=identity-graph] canvas")).to_have_count(1)
    screenshot(page, "customer-360")


def test_dashboard_draws_its_charts(page: Page, console_server: Server) -> None:
    login(page, console_server, "admin")
    expect(page).to_have_url(f"{console_server.url}/dashboard")
    expect(page.locator("[data-kpi=private] .kpi-value")).not_to_have_text("0")
    expect(page.locator("[data-chart=daily] canvas")).to_have_count(4)
    screenshot(page, "dashboard")


def _all_rows(page: Page) -> int:
    """Return how many customers the list shows once every "load more" has been followed."""
    more = page.get_by_test_id("more-customers")
    while more.count():
        before = page.locator("#customer-rows tr[data-customer-id]").count()
        more.click()
        expect(page.locator("#customer-rows tr[data-customer-id]")).not_to_have_count(before)
    return page.locator("#customer-rows tr[data-customer-id]").count()


def test_a_dashboard_figure_opens_exactly_its_customers(page: Page, console_server: Server) -> None:
    login(page, console_server, "ops")
    link = page.locator("[data-kpi=entered] a.kpi-link")
    people = int(link.get_attribute("data-people") or 0)
    assert people > 0  # the demo brand's last 30 days bring customers in
    link.click()
    expect(page).to_have_url(re.compile(r"/customers\?activity=entered&activity_from=\d{4}-\d\d-\d\d&"))
    expect(page.locator("select[name=activity]")).to_have_value("entered")
    assert _all_rows(page) == people
    screenshot(page, "dashboard-link-list")


def test_clicking_a_chart_bar_opens_that_days_customers(page: Page, console_server: Server) -> None:
    login(page, console_server, "ops")
    expect(page.locator("[data-source=chart-gmv] canvas")).to_have_count(1)
    page.locator("[data-source=chart-gmv]").scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # the bars grow for a second before they can be hit
    target = page.evaluate("""() => {
        const el = document.querySelector('[data-source=chart-gmv]');
        const s = JSON.parse(document.getElementById('chart-gmv').textContent).series[0];
        let best = -1;
        s.links.forEach((link, i) => { if (link && (best < 0 || +s.data[i] > +s.data[best])) { best = i; } });
        const [x, y] = window.echarts.getInstanceByDom(el).convertToPixel({seriesIndex: 0}, [best, +s.data[best]]);
        const box = el.getBoundingClientRect();
        return {x: box.left + x, y: box.top + y + 3, link: s.links[best], people: s.people[best]};
    }""")
    page.mouse.click(target["x"], target["y"])  # a real click on the day's tallest GMV bar
    expect(page).to_have_url(console_server.url + target["link"])
    assert "activity=ordered" in target["link"] and _all_rows(page) == target["people"]


def test_dashboard_at_phone_width(phone: Page, console_server: Server) -> None:
    login(phone, console_server, "ana")
    expect(phone.locator("[data-chart=daily] canvas")).to_have_count(4)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the dashboard scrolls sideways ({width}px)"
    screenshot(phone, "dashboard-phone", full_page=False)


def test_operator_adds_a_tag_and_a_note_on_the_360_page(page: Page, console_server: Server) -> None:
    customer_id, _phone = phone_customer(console_server, SECRET)
    login(page, console_server, "ops", f"/customers/{customer_id}")
    tags = page.get_by_test_id("tags")
    tags.locator("input[name=tag]").fill("浏览器测试标签")
    tags.locator("button[type=submit]").last.click()
    expect(page.get_by_test_id("tags").locator(".chip", has_text="浏览器测试标签")).to_be_visible()
    notes = page.get_by_test_id("notes")
    notes.locator("select[name=method]").select_option("call")
    notes.locator("textarea[name=body]").fill("电话回访：对新品感兴趣")
    notes.locator("button[type=submit]").click()
    expect(page.get_by_test_id("notes").locator(".note-body").first).to_have_text("电话回访：对新品感兴趣")
    page.reload()  # both were stored, not only drawn
    expect(page.get_by_test_id("tags")).to_contain_text("浏览器测试标签")
    expect(page.get_by_test_id("notes")).to_contain_text("电话回访：对新品感兴趣")
    page.get_by_test_id("tags").locator(".chip", has_text="浏览器测试标签").locator("button").click()
    expect(page.get_by_test_id("tags").locator(".chip", has_text="浏览器测试标签")).to_have_count(0)
    screenshot(page, "customer-360-followup")


def test_switching_to_english_persists_across_pages(page: Page, console_server: Server) -> None:
    login(page, console_server, "ops", "/customers")
    expect(page.locator("h1")).to_have_text("客户")
    page.get_by_test_id("lang-en").click()
    expect(page.locator("h1")).to_have_text("Customers")
    expect(page.locator("nav.mainnav")).to_contain_text("User operations")
    page.goto("/identity/review")
    expect(page.locator("h1")).to_have_text("Identity review")
    screenshot(page, "identity-review-en")
    page.get_by_test_id("lang-zh-CN").click()
    expect(page.locator("h1")).to_have_text("身份审核")


def test_staff_cannot_open_another_staff_members_customer(page: Page, console_server: Server) -> None:
    userid = console_server.staff_userids["staff1"]
    own, _contact = followed_contact(console_server, userid)
    other = customer_not_followed_by(console_server, userid)
    login(page, console_server, "staff1")
    expect_http_error(page, f"{console_server.url}/customers/{other}")
    expect_http_error(page, f"{console_server.url}/identity/review")
    assert page.goto(f"/customers/{own}").status == 200
    expect(page.get_by_test_id("customer-name")).to_be_visible()
    response = page.goto(f"/customers/{other}")
    assert response is not None and response.status == 404
    expect(page.get_by_test_id("error-page")).to_contain_text("找不到这个客户")
    assert page.goto("/identity/review").status == 403


def test_staff_sidebar_at_phone_width(phone: Page, console_server: Server) -> None:
    userid = console_server.staff_userids["staff1"]
    customer_id, contact = followed_contact(console_server, userid)
    login(phone, console_server, "staff1", f"/sidebar/customer?external_userid={contact}")
    expect(phone.get_by_test_id("portrait")).to_be_visible()
    notes = phone.get_by_test_id("notes")
    notes.locator("textarea[name=body]").fill("侧边栏快速记录")
    notes.locator("button[type=submit]").click()
    expect(phone.get_by_test_id("notes").locator(".note-body").first).to_have_text("侧边栏快速记录")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the sidebar scrolls sideways ({width}px)"
    screenshot(phone, "sidebar-phone")
    other = customer_not_followed_by(console_server, userid)
    assert customer_id != other


def test_customers_list_at_phone_width(phone: Page, console_server: Server) -> None:
    login(phone, console_server, "ops", "/customers")
    expect(phone.locator("nav.mainnav")).to_be_hidden()
    phone.click("label.nav-button")
    expect(phone.locator("nav.mainnav")).to_be_visible()
    screenshot(phone, "customers-phone", full_page=False)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the customers list scrolls sideways ({width}px)"
    phone.get_by_test_id("more-customers").click()
    expect(phone.locator("#customer-rows tr[data-customer-id]")).to_have_count(100)


def test_markup_in_a_customer_name_renders_inert(page: Page, console_server: Server) -> None:
    customer_id, _phone = phone_customer(console_server, SECRET)
    res = httpx.patch(f"{console_server.url}/api/v1/customers/{customer_id}", json={"name": XSS},
                      headers={"Authorization": f"Bearer {console_server.api_key}"})
    assert res.status_code == 200
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, console_server, "admin", f"/customers/{customer_id}")
    expect(page.get_by_test_id("customer-name")).to_contain_text(XSS)
    page.goto("/customers?" + urlencode({"q": XSS}))  # an exact-name search through the blind index
    expect(page.locator(f"tr[data-customer-id='{customer_id}']")).to_be_visible()
    assert dialogs == []
    assert page.evaluate("document.querySelectorAll('main script:not([type=\"application/json\"])').length") == 0


def test_operator_creates_a_channel_code_and_sees_its_chart(page: Page, console_server: Server) -> None:
    login(page, console_server, "ops", "/channel-codes")
    expect(page.get_by_test_id("code-table")).to_be_visible()
    screenshot(page, "channel-codes")
    page.get_by_test_id("new-code").click()
    form = page.get_by_test_id("code-form")
    form.locator("input[name=name]").fill("浏览器测试活码")
    form.locator("select[name=platform]").select_option("douyin")
    form.locator("select[name=strategy]").select_option("weighted")
    form.locator("textarea[name=pool]").fill(f"{console_server.staff_userids['staff1']}:3:50\n"
                                             f"{console_server.staff_userids['staff2']}")
    form.locator("input[name=hours_mon]").fill("09:00-18:00")
    form.locator("input[name=tags]").fill("抖音, 测试")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("code-name")).to_contain_text("浏览器测试活码")
    expect(page.get_by_test_id("code-pool")).to_contain_text(console_server.staff_userids["staff1"])
    expect(page.locator("[data-chart=daily] canvas")).to_have_count(1)
    screenshot(page, "channel-code")


def test_staff_and_group_pages(page: Page, console_server: Server) -> None:
    login(page, console_server, "ops", "/staff")
    expect(page.get_by_test_id("staff-table")).to_be_visible()
    page.get_by_test_id("staff-table").locator("tbody tr a").first.click()
    expect(page.get_by_test_id("staff-transfer")).to_be_visible()
    screenshot(page, "staff-member")
    page.goto("/groups")
    screenshot(page, "groups")
    page.get_by_test_id("group-table").locator("tbody tr a").first.click()
    expect(page.get_by_test_id("group-name")).to_be_visible()
    expect(page.locator("[data-chart=daily] canvas")).to_have_count(1)
    screenshot(page, "group")
