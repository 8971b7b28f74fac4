"""The engagement pages in a real browser: journeys with live step counts, content, mass messages, auto-reply
rules and the staff task inbox, in Simplified Chinese (the default) with no untranslated message key.

The server is the browser tests' ``siyu serve`` on SQLite, which runs the journey scheduler and the outbox
dispatcher in-process (``--worker``, the default there): a journey enrolled while its page is open advances
and the page's counts follow without a reload.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from web.browser.conftest import expect_http_error
from web.browser.helpers import Server, login, screenshot

from siyu.db.engine import unit_of_work
from siyu.domains.customers import Customer
from siyu.domains.journeys import service as journeys
from siyu.domains.staff.models import Staff
from siyu.domains.tasks import get_task

pytestmark = pytest.mark.browser
# a message key left untranslated shows as itself, e.g. "journey.count.done"
UNTRANSLATED = re.compile(r"\b(?:journey|task|content|mass|service|nav|common)\.[a-z_]+(?:\.[a-z_]+)*\b")


def _no_raw_keys(page: Page) -> None:
    text = page.locator("main").inner_text() if page.locator("main").count() else page.inner_text("body")
    assert UNTRANSLATED.findall(text) == [], UNTRANSLATED.findall(text)


def _journey(server: Server, name: str) -> tuple[int, list[int]]:
    definition = {"trigger": {"type": "manual"}, "steps": [
        {"id": "tag", "label": "打标签", "type": "add_tag", "tag": "浏览器流程", "next": "wait"},
        {"id": "wait", "type": "wait", "duration": {"days": 1}, "next": "done"},
        {"id": "done", "type": "exit"}]}
    engine = server.engine()
    try:
        with unit_of_work(engine) as s:
            journey = journeys.create_journey(s, name=name, definition=definition, actor="test")
            journeys.publish(s, journey.id, actor="test")
            ids = list(s.scalars(select(Customer.id).where(Customer.merged_into_id.is_(None))
                                 .order_by(Customer.id.desc()).limit(4)))
            return journey.id, ids
    finally:
        engine.dispose()


def _enrol(server: Server, journey_id: int, ids: list[int]) -> None:
    engine = server.engine()
    try:
        with unit_of_work(engine) as s:
            assert journeys.enrol_customers(s, journey_id, ids, actor="test") == len(ids)
    finally:
        engine.dispose()


def test_journey_list_and_flow_with_live_counts(page: Page, console_server: Server) -> None:
    name = f"浏览器旅程-{uuid.uuid4().hex[:6]}"
    journey_id, ids = _journey(console_server, name)
    login(page, console_server, "admin", "/journeys")
    expect(page.get_by_test_id("journeys")).to_contain_text(name)
    expect(page.locator("html")).to_have_attribute("lang", re.compile("^zh"))
    _no_raw_keys(page)
    page.get_by_role("link", name=name).click()
    expect(page).to_have_url(f"{console_server.url}/journeys/{journey_id}")
    flow = page.get_by_test_id("journey-flow")
    expect(flow.locator("li.journey-step")).to_have_count(3)
    expect(flow.locator("#step-tag")).to_contain_text("打标签")
    expect(flow.locator("#step-tag .journey-edge a")).to_have_attribute("href", "#step-wait")
    expect(flow.locator("#step-tag [data-param=tag]")).to_have_text("标签: 浏览器流程")  # parameters in words
    expect(flow.locator("#step-wait [data-param=duration]")).to_have_text("时长: 1 天")
    expect(flow.locator("#step-tag .journey-counts")).to_have_attribute("data-counts", "0,0,0,0,0")  # nobody yet
    _no_raw_keys(page)
    # enrol while the page is open: the server's scheduler runs the first step, the page's poll shows it
    _enrol(console_server, journey_id, ids)
    expect(flow.locator("#step-tag .journey-counts")).to_have_attribute("data-counts", f"{len(ids)},0,{len(ids)},0,0",
                                                                        timeout=40_000)
    expect(page.locator("#step-wait .journey-counts")).to_have_attribute("data-counts", f"{len(ids)},{len(ids)},0,0,0")
    expect(page).to_have_url(f"{console_server.url}/journeys/{journey_id}")  # no reload: HTMX swapped the steps
    expect(page.locator("#step-tag")).to_contain_text("完成")
    _no_raw_keys(page)
    screenshot(page, "journey-flow")


def _staff_id(server: Server, userid: str) -> int:
    engine = server.engine()
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(Staff.id).where(Staff.userid == userid)).scalar_one())
    finally:
        engine.dispose()


def test_content_mass_message_and_the_confirmation_task(page: Page, console_server: Server) -> None:
    title = f"新品试饮-{uuid.uuid4().hex[:6]}"
    login(page, console_server, "admin", "/content")
    _no_raw_keys(page)
    form = page.get_by_test_id("content-form")
    form.locator("input[name=title]").fill(title)
    form.locator("textarea[name=body]").fill("{{ name | default('您好') }}，新品上市，欢迎试饮")
    form.locator("input[name=topics]").fill("新品, 茶饮")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/content/\d+\?done=saved$"))
    content_id = int(re.search(r"/content/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    expect(page.locator("p.notice")).to_be_visible()
    metrics = page.get_by_test_id("content-metrics")
    expect(metrics.locator("tr[data-key=total] td").nth(1)).to_have_text("0")  # nothing sent yet
    page.get_by_test_id("content-preview").locator("button[type=submit]").click()
    expect(page.get_by_test_id("content-rendered")).to_have_text("您好，新品上市，欢迎试饮")
    _no_raw_keys(page)
    screenshot(page, "content-item")

    # a mass message of that item to staff1's customers: a bad audience first, then the real one
    userid = console_server.staff_userids["staff1"]
    page.goto("/mass")
    expect_http_error(page, f"{console_server.url}/mass")  # the bad audience answers 422 with the form
    _no_raw_keys(page)
    mass = page.get_by_test_id("mass-form")
    mass.locator("input[name=name]").fill(f"群发-{title}")
    mass.locator("select[name=audience_kind]").select_option("segment")
    mass.locator("input[name=audience]").fill("不存在的分群")
    mass.locator("select[name=content_id]").select_option(str(content_id))
    mass.locator("button[type=submit]").click()
    expect(page.locator(".field-error[data-field=audience]")).to_be_visible()
    _no_raw_keys(page)
    mass = page.get_by_test_id("mass-form")
    mass.locator("select[name=audience_kind]").select_option("staff")
    mass.locator("input[name=audience]").fill(str(_staff_id(console_server, userid)))
    mass.locator("select[name=content_id]").select_option(str(content_id))
    mass.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/mass/\d+$"))
    mass_url = page.url
    preview = page.get_by_test_id("mass-preview")
    expect(preview).to_be_visible()
    audience = int(preview.locator("[data-figure=audience]").inner_text())
    assert audience > 0
    _no_raw_keys(page)
    screenshot(page, "mass-preview")
    page.get_by_test_id("mass-send").click()
    expect(page.get_by_test_id("mass-status")).to_have_attribute("data-status", "sent")
    _no_raw_keys(page)
    page.goto(f"/content/{content_id}")
    sent = int(page.get_by_test_id("content-metrics").locator("tr[data-key=total] td").nth(1).inner_text())
    assert 0 < sent <= audience  # the item's metrics count what the mass message sent

    # WeCom asks the staff member to confirm a mass message: a task in staff1's inbox, done from there
    page.context.clear_cookies()
    login(page, console_server, "staff1", "/tasks")
    rows = page.get_by_test_id("tasks").locator("tr[data-task]")
    row = rows.filter(has_text=title)
    expect(row).to_have_count(1)
    task_id = int(row.get_attribute("data-task") or 0)
    mass_id = re.search(r"/mass/(\d+)", mass_url).group(1)  # type: ignore[union-attr]
    source = row.locator(f"td[data-source='mass_message:{mass_id}']")
    expect(source).to_have_text(f"群发 #{mass_id}")  # said in words; staff may not open mass messages: no link
    expect(source.locator("a")).to_have_count(0)
    _no_raw_keys(page)
    screenshot(page, "task-inbox")
    row.locator("button[type=submit]").click()
    expect(page.get_by_test_id("tasks").locator(f"tr[data-task='{task_id}']")).to_have_count(0)
    engine = console_server.engine()
    try:
        with unit_of_work(engine, write=False) as s:
            assert get_task(s, task_id).status == "done"
    finally:
        engine.dispose()
    page.goto("/tasks?status=done")
    expect(page.get_by_test_id("tasks").locator(f"tr[data-task='{task_id}']")).to_have_count(1)
    page.context.clear_cookies()
    login(page, console_server, "admin", "/tasks?status=done")  # an admin may open the mass message: a link
    link = page.locator(f"tr[data-task='{task_id}'] td[data-source] a")
    expect(link).to_have_attribute("href", f"/mass/{mass_id}")
    _no_raw_keys(page)


def test_auto_reply_rules_create_and_field_errors(page: Page, console_server: Server) -> None:
    name = f"营业时间-{uuid.uuid4().hex[:6]}"
    login(page, console_server, "admin", "/service/rules")
    expect_http_error(page, f"{console_server.url}/service/rules")  # bad input answers 422 with the form
    _no_raw_keys(page)
    form = page.get_by_test_id("service-rule-form")
    form.locator("input[name=name]").fill(name)
    form.locator("select[name=match_type]").select_option("regex")
    form.locator("textarea[name=patterns]").fill("(几点")
    form.locator("textarea[name=reply]").fill("每天 9:00-21:00 营业")
    form.locator("button[type=submit]").click()
    error = page.locator(".field-error[data-field=patterns]")
    expect(error).to_be_visible()  # the bad regex is named under its own field, the form keeps what was typed
    expect(page.get_by_test_id("service-rule-form").locator("input[name=name]")).to_have_value(name)
    _no_raw_keys(page)
    screenshot(page, "service-rule-error")
    form = page.get_by_test_id("service-rule-form")
    form.locator("textarea[name=patterns]").fill("几点开门\n营业时间")
    form.locator("select[name=match_type]").select_option("contains")
    form.locator("input[name=priority]").fill("abc")
    form.locator("button[type=submit]").click()
    expect(page.locator(".field-error[data-field=priority]")).to_be_visible()
    form = page.get_by_test_id("service-rule-form")
    form.locator("input[name=priority]").fill("5")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{console_server.url}/service/rules?done=saved")
    row = page.get_by_test_id("service-rules").locator("tr[data-rule-id]", has_text=name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("几点开门 | 营业时间")
    _no_raw_keys(page)
