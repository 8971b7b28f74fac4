"""Mass messages over HTTP: preview after opt-outs and consent, one outbox message per recipient even when
sent twice, confirmation tasks per WeCom sender, schedule/cancel/send_due, groups and staff audiences, 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from factories import T0, make_api_key, make_customer, make_group_membership, make_ownership, make_staff
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.content.models import ContentItem, ContentSend
from siyu.domains.customers import Consent
from siyu.domains.identity.models import Identity
from siyu.domains.mass_messages import sending
from siyu.domains.mass_messages.service import get, resolve
from siyu.domains.outbox import OutboxMessage
from siyu.domains.outbox.service import add_opt_out, save_policy
from siyu.domains.segments import service as segments
from siyu.domains.tags.models import InterestScore
from siyu.domains.tasks.models import StaffTask
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow
from siyu.web.app import create_app

Api = tuple[TestClient, dict[str, str], dict[str, Any]]


@pytest.fixture
def api(db_engine: Engine, settings: Settings) -> Iterator[Api]:
    vault = PiiVault(settings.effective_secret_key)
    ids: dict[str, Any] = {}
    with unit_of_work(db_engine) as s:
        _, admin = make_api_key(s, "admin")
        s1, s2 = make_staff(s, "s1", "小李"), make_staff(s, "s2", "小张")
        ids["s1"], ids["s2"] = s1.id, s2.id
        owners = {"A": s1, "B": s1, "C": s2, "D": None, "E": s2}
        for name, owner in owners.items():
            c = make_customer(s, vault, name=f"客户{name}", city="上海" if name != "E" else "北京",
                              identities={"external_userid": f"wm{name}0000001"})
            ids[name] = c.id
            ident = s.scalar(select(Identity).where(Identity.customer_id == c.id))
            if owner is not None:
                make_ownership(s, ident, owner)
            if name in ("A", "E"):
                ids["group"] = make_group_membership(s, ident, "chat-1").id
            if name == "C":
                s.add(Consent(identity_id=ident.id, channel="wecom", purpose="marketing", granted=False,
                              source="test", evidence={}, recorded_at=T0))
        add_opt_out(s, customer_id=ids["B"], channel="*", scope="all", source="test")
        item = ContentItem(kind="text", title="新品", body="{{ name | default('亲') }}，新品到了 {{ link }}",
                           url="https://brand.example/new", created_by="t", created_at=T0, updated_at=T0)
        s.add(item)
        s.flush()
        ids["item"] = item.id
        ids["segment"] = segments.create_segment(s, name="上海客户", rule={"attribute": "city", "op": "eq",
                                                                        "value": "上海"}, actor="t", tz=settings.tz).id
    with TestClient(create_app(settings, db_engine)) as client:
        yield client, {"Authorization": f"Bearer {admin}"}, ids


def _outbox(db_engine: Engine) -> list[OutboxMessage]:
    with unit_of_work(db_engine, write=False) as s:
        rows = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.idempotency_key)))
        s.expunge_all()
        return rows


def test_preview_then_send_once_with_confirmation_tasks(api: Api, db_engine: Engine, settings: Settings) -> None:
    client, h, ids = api
    made = client.post("/api/v1/mass-messages", json={"name": "新品通知", "audience": {"segment": "上海客户"},
                                                      "channel": "wecom", "content_id": ids["item"]}, headers=h)
    assert made.status_code == 201, made.text
    mid = made.json()["id"]
    assert made.json()["status"] == "draft" and made.json()["audience"] == {"segment": ids["segment"]}
    p = client.get(f"/api/v1/mass-messages/{mid}/preview", headers=h).json()
    # A, B, C in Shanghai with a staff member, D with none; B is on the do-not-contact list, C withdrew consent
    assert (p["audience"], p["eligible"], p["sample"]) == (4, 1, [ids["A"]])
    assert p["excluded"] == {"consent_withdrawn": 1, "do_not_contact": 1, "no_staff_member": 1}
    assert p["by_staff"] == {str(ids["s1"]): 1}
    sent = client.post(f"/api/v1/mass-messages/{mid}/send", headers=h)
    assert sent.status_code == 200, sent.text
    assert {k: sent.json()[k] for k in ("status", "recipients", "skipped", "tasks")} == \
        {"status": "sent", "recipients": 3, "skipped": 1, "tasks": 2}
    again = client.post(f"/api/v1/mass-messages/{mid}/send", headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "mass_message_closed"
    with unit_of_work(db_engine) as s:  # a replay below the status guard (a retried job) enqueues nothing new
        row = get(s, mid)
        sending.enqueue_all(s, settings, row, resolve(s, row), utcnow())
    rows = _outbox(db_engine)
    assert [(r.idempotency_key, r.customer_id, r.staff_id) for r in rows] == sorted(
        [(f"mass:{mid}:{ids[n]}", ids[n], ids[o]) for n, o in (("A", "s1"), ("B", "s1"), ("C", "s2"))])
    assert {(r.category, r.source, r.kind, r.channel, r.mass_message_id, r.content_id) for r in rows} == \
        {("marketing", f"mass:{mid}", "mass_message", "wecom", mid, ids["item"])}
    a = next(r for r in rows if r.customer_id == ids["A"])
    assert a.payload["text"].startswith("客户A，新品到了 http") and "/l/" in a.payload["url"]
    with unit_of_work(db_engine, write=False) as s:
        tasks = s.execute(select(StaffTask.staff_id, StaffTask.idempotency_key, StaffTask.source)
                          .order_by(StaffTask.staff_id)).all()
        assert len(s.scalars(select(ContentSend)).all()) == 3
    assert [tuple(t) for t in tasks] == [(ids["s1"], f"mass:{mid}:confirm:{ids['s1']}", f"mass_message:{mid}"),
                                         (ids["s2"], f"mass:{mid}:confirm:{ids['s2']}", f"mass_message:{mid}")]


def test_schedule_cancel_and_send_due(api: Api, db_engine: Engine, settings: Settings) -> None:
    client, h, ids = api
    later = (utcnow() + timedelta(hours=2)).isoformat()
    body = {"name": "周末", "audience": {"staff": [ids["s2"]]}, "channel": "sms", "content_id": ids["item"]}
    first = client.post("/api/v1/mass-messages", json={**body, "send_at": later}, headers=h).json()
    second = client.post("/api/v1/mass-messages", json=body, headers=h).json()
    assert first["status"] == "scheduled"
    moved = client.post(f"/api/v1/mass-messages/{second['id']}/schedule", json={"send_at": later}, headers=h).json()
    assert moved["status"] == "scheduled"
    cancelled = client.post(f"/api/v1/mass-messages/{second['id']}/cancel", headers=h).json()
    assert cancelled["status"] == "cancelled"
    assert client.post(f"/api/v1/mass-messages/{second['id']}/send", headers=h).status_code == 409
    with unit_of_work(db_engine) as s:
        assert sending.send_due(s, settings, now=utcnow()) == []  # not due yet
        assert sending.send_due(s, settings, now=utcnow() + timedelta(hours=3)) == [first["id"]]
    rows = _outbox(db_engine)
    # s2's customers: C (Shanghai) and E (Beijing); sms needs no staff member and creates no tasks
    assert sorted(r.customer_id for r in rows) == sorted([ids["C"], ids["E"]])
    assert all(r.send_after >= utcnow() + timedelta(hours=1) for r in rows)  # held until the scheduled time
    assert client.get(f"/api/v1/mass-messages/{first['id']}", headers=h).json()["tasks"] == 0
    listed = client.get("/api/v1/mass-messages?status=sent", headers=h).json()["items"]
    assert [m["id"] for m in listed] == [first["id"]]


def test_groups_get_one_message_each_from_their_owner(api: Api, db_engine: Engine) -> None:
    client, h, ids = api
    mid = client.post("/api/v1/mass-messages", json={"name": "群发", "audience": {"groups": [ids["group"]]},
                                                     "channel": "wecom_group", "content_id": ids["item"]},
                      headers=h).json()["id"]
    p = client.get(f"/api/v1/mass-messages/{mid}/preview", headers=h).json()
    assert (p["groups"], p["eligible"]) == (1, 1)
    assert client.post(f"/api/v1/mass-messages/{mid}/send", headers=h).json()["recipients"] == 1
    (row,) = _outbox(db_engine)
    assert (row.idempotency_key, row.customer_id, row.channel) == (f"mass:{mid}:group:{ids['group']}", None,
                                                                  "wecom_group")
    assert row.payload["text"].startswith("亲，新品到了 http")


def test_bad_requests(api: Api) -> None:
    client, h, ids = api
    base = {"name": "x", "audience": {"segment": ids["segment"]}, "channel": "wecom", "content_id": ids["item"]}
    cases = [
        ({**base, "colour": 1}, 422, "validation_error"),
        ({**base, "audience": {"segment": "没有这个"}}, 404, "segment_not_found"),
        ({**base, "audience": {"segment": 1, "staff": [1]}}, 422, "validation_error"),
        ({**base, "audience": {"groups": [ids["group"]]}}, 422, "validation_error"),  # groups need wecom_group
        ({**base, "audience": {"staff": [999999]}}, 404, "staff_not_found"),
        ({**base, "audience": {"groups": [999999]}, "channel": "wecom_group"}, 404, "group_not_found"),
        ({**base, "content_id": 999999}, 404, "content_not_found"),
        ({**base, "variant": "Z"}, 422, "variant_not_found"),
        ({**base, "send_at": "2020-01-01T00:00:00+08:00"}, 422, "send_at_past"),
        ({**base, "send_at": "2030-01-01T00:00:00"}, 422, "validation_error"),  # naive time
    ]
    for body, status, code in cases:
        r = client.post("/api/v1/mass-messages", json=body, headers=h)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
    assert client.get("/api/v1/mass-messages/999999", headers=h).status_code == 404


def test_collection_gives_each_customer_their_best_item(api: Api, db_engine: Engine) -> None:
    client, h, ids = api
    with unit_of_work(db_engine) as s:
        items = {}
        for topic in ("护肤", "母婴"):
            row = ContentItem(kind="text", title=topic, body=f"{topic} {{{{ name }}}}", topics=[topic], created_by="t",
                              created_at=T0, updated_at=T0)
            s.add(row)
            s.flush()
            items[topic] = row.id
        s.add_all([InterestScore(customer_id=ids["A"], topic="护肤", score=9.0, computed_at=T0),
                   InterestScore(customer_id=ids["C"], topic="母婴", score=9.0, computed_at=T0)])
    coll = client.post("/api/v1/content/collections", json={"name": "春季", "items": list(items.values())}, headers=h)
    assert coll.status_code == 201
    body = {"name": "各取所需", "audience": {"staff": [ids["s1"], ids["s2"]]}, "channel": "sms", "collection": "春季"}
    assert client.post("/api/v1/mass-messages", json={**body, "content_id": ids["item"]}, headers=h).status_code == 422
    assert client.post("/api/v1/mass-messages", json={**body, "collection": "无"}, headers=h).status_code == 404
    mid = client.post("/api/v1/mass-messages", json=body, headers=h).json()["id"]
    sent = client.post(f"/api/v1/mass-messages/{mid}/send", headers=h).json()
    assert (sent["recipients"], sent["skipped"], sent["collection"]) == (4, 0, "春季")
    got = {m.customer_id: m.content_id for m in _outbox(db_engine)}
    assert sorted(got) == sorted(ids[n] for n in "ABCE")
    assert got[ids["A"]] == items["护肤"] and got[ids["C"]] == items["母婴"]
    assert set(got.values()) <= set(items.values())


def test_preview_counts_customers_at_their_cap(api: Api, db_engine: Engine) -> None:
    client, h, ids = api
    now = utcnow()
    with unit_of_work(db_engine) as s:
        save_policy(s, {"caps": [{"period": "day", "limit": 1}], "quiet_hours": {"enabled": False}}, actor="t")
        s.add(OutboxMessage(idempotency_key="earlier", kind="x", channel="sms", category="marketing",
                            customer_id=ids["E"], payload={}, status="sent", send_after=now, created_at=now,
                            sent_at=now - timedelta(minutes=1)))
    mid = client.post("/api/v1/mass-messages", json={"name": "x", "audience": {"staff": [ids["s2"]]}, "channel": "sms",
                                                     "content_id": ids["item"]}, headers=h).json()["id"]
    p = client.get(f"/api/v1/mass-messages/{mid}/preview", headers=h).json()
    # s2 follows C (who withdrew WeCom consent only: SMS may go) and E (one marketing message already sent
    # today: at the daily cap of 1)
    assert (p["audience"], p["eligible"], p["excluded"], p["sample"]) == (2, 1, {"cap_customer_day": 1}, [ids["C"]])


def test_preview_holds_recipients_in_quiet_hours_until_they_end(api: Api, settings: Settings) -> None:
    client, h, ids = api
    local = utcnow().astimezone(settings.tz) + timedelta(days=1)
    at = local.replace(hour=23, minute=0, second=0, microsecond=0)  # tomorrow 23:00 in Shanghai: quiet hours
    mid = client.post("/api/v1/mass-messages", json={"name": "夜间", "audience": {"segment": "上海客户"},
                                                     "channel": "wecom", "content_id": ids["item"],
                                                     "send_at": at.isoformat()}, headers=h).json()["id"]
    p = client.get(f"/api/v1/mass-messages/{mid}/preview", headers=h).json()
    # A is eligible but held by quiet hours until 08:00 the next morning; the exclusions are the outbox's
    assert (p["eligible"], p["held"], p["sample"]) == (1, 1, [ids["A"]])
    assert p["excluded"] == {"consent_withdrawn": 1, "do_not_contact": 1, "no_staff_member": 1}
    until = datetime.fromisoformat(p["held_until"]).astimezone(settings.tz)
    assert (until.date(), until.hour) == (at.date() + timedelta(days=1), 8)
