"""A channel code's QR code in a real browser: create the code, download its QR, scan its landing link."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect
from web.browser.helpers import ARTIFACTS, Server, login, screenshot

pytestmark = pytest.mark.browser
WECOM = "https://work.weixin.qq.com/ca/cawcdeBrowserTest01"


def test_operator_creates_a_code_and_downloads_its_qr(page: Page, console_server: Server) -> None:
    login(page, console_server, "ops", "/channel-codes/new")
    form = page.get_by_test_id("code-form")
    form.locator("input[name=name]").fill("包裹卡二维码")
    form.locator("select[name=platform]").select_option("parcel")
    form.locator("textarea[name=pool]").fill(console_server.staff_userids["staff1"])
    form.locator("input[name=landing_url]").fill(WECOM)
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("code-landing")).to_be_visible()
    expect(page.locator("img.qr")).to_have_js_property("complete", True)
    assert page.evaluate("document.querySelector('img.qr').naturalWidth") > 100  # the SVG preview drew
    screenshot(page, "channel-code-qr")
    for test_id, magic in (("qr-png", b"\x89PNG\r\n\x1a\n"), ("qr-svg", b"<?xml")):
        with page.expect_download() as download:
            page.get_by_test_id(test_id).click()
        saved = ARTIFACTS / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.read_bytes().startswith(magic), test_id
    path = urlsplit(page.get_by_test_id("landing-link").inner_text()).path
    scanned = httpx.get(console_server.url + path, follow_redirects=False)  # a phone scanning the printed code
    assert (scanned.status_code, scanned.headers["location"]) == (302, WECOM)
    page.reload()
    expect(page.get_by_test_id("code-scans")).to_have_text("1")
