"""Content over HTTP: CRUD and its refusals, render previews, tracked links → events, and metrics by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from factories import T0, make_api_key, make_customer, make_order
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.content import prepare_sends
from siyu.domains.content.models import ContentClick
from siyu.domains.events.models import Event
from siyu.domains.identity.models import Identity
from siyu.domains.outbox import NewMessage, OutboxMessage, enqueue
from siyu.domains.scores.models import CustomerScore
from siyu.kit.crypto import PiiVault
from siyu.web.app import create_app

ITEM = {"kind": "article", "title": "春季护肤指南", "body": "<p>{{ name | default('亲') }}，看看 {{ link }}</p>",
        "url": "https://brand.example/spring", "topics": ["护肤", "春季"], "stages": ["interest"]}


@pytest.fixture
def api(db_engine: Engine, settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with unit_of_work(db_engine) as s:
        _, admin = make_api_key(s, "admin")
    app = create_app(settings, db_engine)
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {admin}"}


def test_crud_and_refusals(api: tuple[TestClient, dict[str, str]]) -> None:
    client, h = api
    made = client.post("/api/v1/content", json=ITEM, headers=h)
    assert made.status_code == 201, made.text
    item = made.json()
    assert (item["kind"], item["topics"], item["status"], item["created_by"]) == ("article", ["护肤", "春季"], "active",
                                                                                   item["created_by"])
    cid = item["id"]
    assert client.get(f"/api/v1/content/{cid}", headers=h).json()["title"] == "春季护肤指南"
    patched = client.patch(f"/api/v1/content/{cid}", json={"title": "春季护肤", "products": ["精华"]}, headers=h)
    assert patched.status_code == 200 and patched.json()["title"] == "春季护肤" and patched.json()["products"] == ["精华"]
    v = client.post(f"/api/v1/content/{cid}/variants", json={"name": "B", "body": "Hi {{ name }}", "weight": 2}, headers=h)
    assert v.status_code == 201 and v.json()["weight"] == 2
    assert [x["name"] for x in client.get(f"/api/v1/content/{cid}", headers=h).json()["variants"]] == ["B"]
    refusals = [
        client.post("/api/v1/content", json={**ITEM, "colour": "red"}, headers=h),
        client.post("/api/v1/content", json={**ITEM, "kind": "hologram"}, headers=h),
        client.post("/api/v1/content", json={**ITEM, "url": "javascript:alert(1)"}, headers=h),
        client.post("/api/v1/content", json={**ITEM, "body": "ok\n{% if %}"}, headers=h),
        client.post(f"/api/v1/content/{cid}/variants", json={"name": "B"}, headers=h),
        client.get("/api/v1/content/999999", headers=h),
        client.patch(f"/api/v1/content/{cid}", json={}, headers=h),
        client.post("/api/v1/content/collections", json={"name": "c", "items": [cid, 999999]}, headers=h),
        client.get(f"/api/v1/content/{cid}/metrics?by=segment&segment=nope", headers=h),
        client.get(f"/api/v1/content/{cid}/metrics?by=colour", headers=h),
        client.get("/api/v1/content", headers={}),
    ]
    assert [r.status_code for r in refusals] == [422, 422, 422, 422, 409, 404, 422, 422, 404, 422, 401]
    bad_template = refusals[3].json()["error"]
    assert bad_template["code"] == "invalid_template" and bad_template["details"]["line"] == 2
    assert refusals[4].json()["error"]["code"] == "variant_exists"
    assert refusals[8].json()["error"]["code"] == "segment_not_found"
    coll = client.post("/api/v1/content/collections", json={"name": "春季", "items": [cid]}, headers=h)
    assert coll.status_code == 201 and coll.json()["items"] == [cid]
    assert client.get("/api/v1/content/collections", headers=h).json()["items"][0]["name"] == "春季"
    archived = client.patch(f"/api/v1/content/{cid}", json={"status": "archived"}, headers=h).json()
    assert archived["status"] == "archived" and client.get("/api/v1/content", headers=h).json()["items"] == []


def test_render_preview(api: tuple[TestClient, dict[str, str]], db_engine: Engine, settings: Settings) -> None:
    client, h = api
    with unit_of_work(db_engine) as s:
        cust = make_customer(s, PiiVault(settings.effective_secret_key), name="王小明", city="上海").id
    cid = client.post("/api/v1/content", json={**ITEM, "kind": "text", "body": "{{ name | default('亲') }}@{{ city }}"},
                      headers=h).json()["id"]
    client.post(f"/api/v1/content/{cid}/variants", json={"name": "B", "body": "B:{{ name }}"}, headers=h)
    r = client.post("/api/v1/content/render", json={"content_id": cid}, headers=h)
    assert r.json()["text"] == "亲@"
    assert client.post("/api/v1/content/render", json={"content_id": cid, "customer_id": cust}, headers=h).json()["text"] \
        == "王小明@上海"
    assert client.post("/api/v1/content/render", json={"content_id": cid, "variant": "B", "values": {"name": "Li"}},
                       headers=h).json()["text"] == "B:Li"
    unsafe = client.post("/api/v1/content/render", json={"body": "{{ cycler.__init__.__globals__ }}"}, headers=h)
    assert unsafe.status_code == 422 and unsafe.json()["error"]["code"] == "template_unsafe"
    assert client.post("/api/v1/content/render", json={"content_id": cid, "variant": "Z"}, headers=h).status_code == 422


def _sent_brand(db_engine: Engine, settings: Settings, cid: int) -> dict[str, int]:
    """Three customers sent the item at T0; A pays 2 days later, B 9 days later, C never; A and B delivered."""
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        ids = {}
        for name, uid in (("A", "wmA0000001"), ("B", "wmB0000001"), ("C", "wmC0000001")):
            ids[name] = make_customer(s, vault, identities={"external_userid": uid}).id
        s.add(CustomerScore(customer_id=ids["C"], as_of=T0, computed_at=T0, aipl_stage="loyalty"))
        s.flush()
        keys = {c: f"test:{c}" for c in ids.values()}
        prepared = prepare_sends(s, settings, cid, keys, source="manual", now=T0)
        enqueue(s, [NewMessage(idempotency_key=p.send_key, kind="content", channel="wecom", payload=p.payload,
                               customer_id=p.customer_id, category="marketing") for p in prepared])
        s.execute(update(OutboxMessage).where(OutboxMessage.idempotency_key.in_([keys[ids["A"]], keys[ids["B"]]]))
                  .values(status="sent"))
        for name, days in (("A", 2), ("B", 9)):
            ident = s.scalar(select(Identity).where(Identity.customer_id == ids[name]))
            make_order(s, ident, 10_000 if name == "A" else 5_000, placed_at=T0 + timedelta(days=days))
        ids["codes"] = {p.customer_id: p.payload["url"].rsplit("/", 1)[1] for p in prepared}  # type: ignore[assignment]
        texts = {p.customer_id: p.payload["text"] for p in prepared}
    assert texts[ids["A"]] == f"<p>亲，看看 {settings.public_url}/l/{ids['codes'][ids['A']]}</p>"  # type: ignore[index]
    return ids


def test_link_click_records_one_event_and_metrics_add_up(api: tuple[TestClient, dict[str, str]], db_engine: Engine,
                                                        settings: Settings) -> None:
    client, h = api
    cid = client.post("/api/v1/content", json=ITEM, headers=h).json()["id"]
    ids = _sent_brand(db_engine, settings, cid)
    code_a = ids["codes"][ids["A"]]  # type: ignore[index]
    for _ in range(2):  # the same click replayed (c=...) is one click and one event
        r = client.get(f"/l/{code_a}?c=tap-1", follow_redirects=False)
        assert r.status_code == 302 and r.headers["location"] == ITEM["url"]
    assert client.get(f"/l/{code_a}?c=tap-2", follow_redirects=False).status_code == 302  # a second click
    missing = client.get("/l/zzzzzzzzzz", follow_redirects=False)
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    with unit_of_work(db_engine, write=False) as s:
        events = s.execute(select(Event.event_id, Event.properties, Identity.customer_id)
                           .join(Identity, Identity.id == Event.identity_id)
                           .where(Event.type == "content_clicked")).all()
        assert len(s.scalars(select(ContentClick)).all()) == 2
    assert sorted(e.event_id for e in events) == [f"content_click:c:{code_a}:tap-1", f"content_click:c:{code_a}:tap-2"]
    assert {e.customer_id for e in events} == {ids["A"]}
    assert events[0].properties["topic"] == "护肤" and events[0].properties["content_id"] == cid
    m = client.get(f"/api/v1/content/{cid}/metrics?window_days=7", headers=h).json()
    # by hand: sent 3; delivered A, B; clicked A (twice, one send); converted A (paid day 2 < 7); revenue 10000 fen
    assert {k: m["total"][k] for k in ("sent", "delivered", "clicked", "converted", "revenue_fen")} == \
        {"sent": 3, "delivered": 2, "clicked": 1, "converted": 1, "revenue_fen": 10_000}
    assert m["total"]["click_rate"] == round(1 / 3, 4)
    wide = client.get(f"/api/v1/content/{cid}/metrics?window_days=10&by=stage", headers=h).json()
    assert wide["total"]["converted"] == 2 and wide["total"]["revenue_fen"] == 15_000
    assert {r["key"]: r["sent"] for r in wide["rows"]} == {"loyalty": 1, "none": 2}
