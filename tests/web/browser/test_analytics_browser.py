"""The analysis pages in a real browser: each renders, draws its charts, answers a changed control, speaks both languages.

The demo brand of the session's server (``siyu demo --customers 300``) runs up to today, so the
default controls (yesterday as the as-of day) have buyers, stages, tiers and cohorts.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from web.browser.conftest import expect_http_error
from web.browser.helpers import Server, login, screenshot

pytestmark = pytest.mark.browser


def _result(page: Page) -> None:
    """Wait until the result slot holds a computed result (HTMX fills it after the page)."""
    expect(page.get_by_test_id("computed")).to_be_visible(timeout=60_000)


def _drawn(page: Page, kind: str, count: int = 1) -> None:
    expect(page.locator(f"#analytics-result [data-chart={kind}][data-drawn='1'] canvas")).to_have_count(count)


def test_rfm_grid_sankey_and_thresholds(page: Page, console_server: Server) -> None:
    login(page, console_server, "ana", "/analytics/rfm")
    _result(page)
    expect(page.locator("[data-testid=rfm-grid] td.segment")).to_have_count(8)
    _drawn(page, "bars")
    _drawn(page, "sankey")
    expect(page.get_by_test_id("rfm-flows").locator("tbody tr").first).to_be_visible()
    screenshot(page, "analytics-rfm")
    quintiles = page.locator("[data-testid=rfm-grid] .segment-count").all_inner_texts()
    page.select_option("select[name=scoring]", "thresholds")
    page.fill("input[name=thr_r]", "3, 10, 30, 90")
    page.click("form[data-testid=rfm-controls] button[type=submit]")
    expect(page).to_have_url(re.compile(r"scoring=thresholds"))
    _result(page)
    assert page.locator("[data-testid=rfm-grid] .segment-count").all_inner_texts() != quintiles


def test_rfm_bad_input_shows_beside_the_field(page: Page, console_server: Server) -> None:
    login(page, console_server, "ana", "/analytics/rfm")
    bad = f"{console_server.url}/analytics/rfm?window_days=0&scoring=thresholds&thr_f=5,4,3,2"
    expect_http_error(page, bad)
    assert page.goto(bad).status == 422  # type: ignore[union-attr]
    expect(page.locator(".field-error[data-field=window_days]")).to_be_visible()
    expect(page.locator(".field-error[data-field=thr_f]")).to_be_visible()
    expect(page.get_by_test_id("computed")).to_have_count(0)


def test_aipl_stages_and_flows_follow_the_window(page: Page, console_server: Server) -> None:
    login(page, console_server, "ops", "/analytics/aipl")
    _result(page)
    _drawn(page, "bars")
    _drawn(page, "sankey")
    expect(page.get_by_test_id("aipl-rule-table").locator("tbody tr")).to_have_count(4)
    screenshot(page, "analytics-aipl")
    before = page.get_by_test_id("aipl-table").inner_text()
    page.fill("input[name=window_days]", "7")
    page.click("form[data-testid=aipl-controls] button[type=submit]")
    _result(page)
    expect(page.get_by_test_id("aipl-table")).not_to_have_text(before)


def test_lifecycle_tiers_and_new_vs_returning_by_week(page: Page, console_server: Server) -> None:
    login(page, console_server, "admin", "/analytics/lifecycle")
    _result(page)
    expect(page.get_by_test_id("tier-table").locator("tbody tr")).to_have_count(6)
    _drawn(page, "bars", 2)
    screenshot(page, "analytics-lifecycle")
    months = page.locator("[data-testid=split-table] tr[data-period]")
    expect(months).to_have_count(6)
    assert months.first.get_attribute("data-period").endswith("-01")  # type: ignore[union-attr]
    page.select_option("select[name=unit]", "week")
    page.fill("input[name=periods]", "4")
    page.click("form[data-testid=lifecycle-controls] button[type=submit]")
    _result(page)
    expect(months).to_have_count(4)


def test_retention_triangle_changes_with_the_period(page: Page, console_server: Server) -> None:
    login(page, console_server, "ana", "/analytics/retention")
    _result(page)
    rows = page.locator("[data-testid=retention-triangle] tr[data-cohort]")
    expect(rows.first).to_be_visible()
    expect(rows.first.locator("td[class^=heat-]").first).to_have_text("100.0%")  # +0: the cohort's own period
    _drawn(page, "bars")
    screenshot(page, "analytics-retention")
    weeks = rows.count()
    page.select_option("select[name=unit]", "month")
    page.fill("input[name=periods]", "3")
    page.click("form[data-testid=retention-controls] button[type=submit]")
    _result(page)
    assert rows.count() < weeks and all(d.endswith("-01") for d in
                                        [r.get_attribute("data-cohort") or "" for r in rows.all()])


@pytest.mark.parametrize(("path", "zh", "en"), [("/analytics/rfm", "RFM 客户分层", "RFM segments"),
                                                ("/analytics/aipl", "AIPL 人群资产", "AIPL stages"),
                                                ("/analytics/lifecycle", "生命周期分层", "Lifecycle tiers"),
                                                ("/analytics/retention", "留存分析", "Retention")])
def test_each_page_speaks_chinese_then_english(page: Page, console_server: Server, path: str, zh: str, en: str) -> None:
    login(page, console_server, "ana", path)
    expect(page.locator("h1")).to_have_text(zh)
    _result(page)
    expect(page.get_by_test_id("computed")).to_contain_text("计算于")
    page.get_by_test_id("lang-en").click()
    expect(page.locator("h1")).to_have_text(en)
    _result(page)  # remembered: shown with the page, no second computation
    expect(page.get_by_test_id("computed")).to_contain_text("Computed at")
    expect(page.locator("nav#main-nav")).to_contain_text(en)
