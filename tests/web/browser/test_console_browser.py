"""The console in a real browser: login, customers, the 360 page, tags and notes, language, staff scoping."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from web.browser.conftest import SECRET
from web.browser.helpers import Server, login, phone_customer, screenshot

pytestmark = pytest.mark.browser


def test_admin_logs_in_searches_by_phone_and_opens_the_360_page(page: Page, console_server: Server) -> None:
    customer_id, phone = phone_customer(console_server, SECRET)
    login(page, console_server, "admin")
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
