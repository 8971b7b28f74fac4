"""Journey pages: the list, a journey's flow with live counts (HTMX fragment), the staff task inbox."""

from __future__ import annotations

import re

from domains.journeys.helpers import context, run
from sqlalchemy import Engine

from siyu.db.engine import unit_of_work
from siyu.domains.journeys import service
from siyu.domains.tasks import NewTask, create_tasks
from siyu.kit.time import utcnow

FLOW = {"trigger": {"type": "manual"}, "holdout_percent": 0, "steps": [
    {"id": "ask", "type": "branch", "rule": {"attribute": "city", "op": "eq", "value": "杭州"}, "yes": "hz", "no": "end"},
    {"id": "hz", "type": "create_task", "title": "杭州客户回访", "next": "wait"},
    {"id": "wait", "type": "wait", "duration": {"days": 1}, "next": "end"},
    {"id": "end", "type": "exit"}]}


def test_journey_list_and_flow_with_counts(console, brand, db_engine: Engine, settings) -> None:
    with unit_of_work(db_engine) as s:
        journey = service.create_journey(s, name="回访", definition=FLOW, actor="test")
        service.publish(s, journey.id, actor="test")
        service.enrol_customers(s, journey.id, [brand.zhang, brand.li], actor="test")
        jid = journey.id
    run(db_engine, context(settings), utcnow())
    ops = console("ops")
    listed = ops.page("/journeys")
    assert listed.status_code == 200 and f'href="/journeys/{jid}"' in listed.text and "运行中" in listed.text
    flow = ops.page(f"/journeys/{jid}")
    counts = dict(re.findall(r'data-step="(\w+)".*?data-counts="([\d,]+)"', flow.text, re.S))
    # entered, waiting, done, failed, exited: zhang (杭州) took yes and waits; li took no and exited
    assert counts == {"ask": "2,0,2,0,0", "hz": "1,0,1,0,0", "wait": "1,1,0,0,0", "end": "1,0,0,0,1"}
    assert "是 → <a href=\"#step-hz\">hz</a>" in flow.text and 'hx-trigger="every 15s"' in flow.text
    fragment = ops.get(f"/journeys/{jid}", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<ol class="journey-flow"')
    assert console("alice_u").page("/journeys").status_code == 403


def test_task_inbox_shows_own_tasks_and_completes_them(console, brand, db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        mine, theirs = create_tasks(s, [NewTask("a", "给张三回电话", staff_id=brand.alice, customer_id=brand.zhang),
                                        NewTask("b", "给李四回电话", staff_id=brand.bob, customer_id=brand.li)])
        mine_id = mine.id
    alice = console("alice_u")
    inbox = alice.page("/tasks")
    assert "给张三回电话" in inbox.text and "给李四回电话" not in inbox.text
    assert alice.submit(f"/tasks/{mine_id}/complete", follow_redirects=False).status_code == 303
    assert "给张三回电话" in alice.page("/tasks?status=done").text
    assert "给张三回电话" not in alice.page("/tasks").text
    assert "给李四回电话" in console("ops").page("/tasks").text
    alice.page("/tasks")
    assert alice.submit(f"/tasks/{theirs.id}/complete").status_code == 404


def test_sidebar_shows_the_customers_open_tasks(console, brand, db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        task = create_tasks(s, [NewTask("s1", "生日回访", staff_id=brand.alice, customer_id=brand.zhang),
                                NewTask("s2", "别人的任务", staff_id=brand.bob, customer_id=brand.zhang)])[0]
    alice = console("alice_u")
    side = alice.page("/sidebar/customer?external_userid=wmZhang001")
    assert "生日回访" in side.text and "别人的任务" not in side.text
    done = alice.submit(f"/tasks/{task.id}/complete", {"back": "/sidebar/customer?external_userid=wmZhang001"},
                        follow_redirects=False)
    assert done.headers["location"] == "/sidebar/customer?external_userid=wmZhang001"
    assert "生日回访" not in alice.page("/sidebar/customer?external_userid=wmZhang001").text
    alice.page("/tasks")
    assert alice.submit(f"/tasks/{task.id}/complete", {"back": "https://evil.example/"}).status_code == 409
