"""The customer timeline: events and order facts of every identity, newest first, keyset-paged."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from factories import (
    as_principal,
    at,
    make_customer,
    make_event,
    make_identity,
    make_order,
    make_ownership,
    make_staff,
    staff_principal,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access import SYSTEM
from siyu.domains.access.models import AuditEntry
from siyu.domains.events.service import events_before
from siyu.domains.orders.service import order_facts_before, order_summary
from siyu.kit.crypto import PiiVault
from siyu.web.app import create_app


@dataclass(frozen=True)
class Story:
    customer: int
    tombstone: int
    other: int
    staff: int
    phone: int
    union: int
    expected: list[tuple[str, str, str]]  # (kind, type, at) newest first


@pytest.fixture
def story(db_engine: Engine, vault: PiiVault) -> Story:
    """One customer with two identities, events and orders interleaved, and ties at one instant."""
    with unit_of_work(db_engine) as s:
        cid = make_customer(s, vault).id
        phone = make_identity(s, vault, cid, "phone", "13812345678")
        union = make_identity(s, vault, cid, "unionid", "unionAAA111")
        other = make_customer(s, vault, identities={"unionid": "unionOTHER1"})
        make_event(s, make_identity(s, vault, other.id, "member_no", "M0001"), "page_view", occurred_at=at(3))
        staff = make_staff(s)
        make_ownership(s, union, staff)
        make_event(s, union, "page_view", occurred_at=at(0))
        make_order(s, phone, 9900, placed_at=at(1), refunded_fen=900)  # created 1, paid 2, refunded 3
        make_event(s, phone, "add_to_cart", occurred_at=at(2))  # same instant as "paid"
        make_event(s, union, "share", occurred_at=at(2))
        make_event(s, phone, "coupon_claimed", occurred_at=at(4))
        tomb = make_customer(s, vault, merged_into_id=cid).id
        expected = [("event", "coupon_claimed", at(4)), ("order", "refunded", at(3)), ("order", "paid", at(2)),
                    ("event", "share", at(2)), ("event", "add_to_cart", at(2)), ("order", "created", at(1)),
                    ("event", "page_view", at(0))]
        return Story(cid, tomb, other.id, staff.id, phone.id, union.id,
                     [(k, t, a.isoformat().replace("+00:00", "Z")) for k, t, a in expected])


@pytest.fixture
def client(settings: Settings, db_engine: Engine) -> TestClient:
    return as_principal(create_app(settings, db_engine), SYSTEM)


def _page(client: TestClient, customer_id: int, **params: object) -> dict:  # type: ignore[type-arg]
    response = client.get(f"/api/v1/customers/{customer_id}/timeline", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _triples(items: list[dict]) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    return [(i["kind"], i["type"], i["at"]) for i in items]


def test_merges_events_and_order_facts_of_all_identities_newest_first(client: TestClient, story: Story) -> None:
    body = _page(client, story.customer)
    assert _triples(body["items"]) == story.expected
    assert body["next_before"] is None
    refund = body["items"][1]
    assert (refund["amount"], refund["identity_id"], refund["order_id"]) == ("9.00", story.phone, refund["order_id"])
    assert body["items"][3]["identity_id"] == story.union


@pytest.mark.parametrize("limit", [1, 2, 3, 6])
def test_pages_neither_skip_nor_repeat_ties(client: TestClient, story: Story, limit: int) -> None:
    seen, before = [], None
    while True:
        body = _page(client, story.customer, limit=limit, **({"before": before} if before else {}))
        assert len(body["items"]) <= limit
        seen += body["items"]
        before = body["next_before"]
        if before is None:
            break
    assert _triples(seen) == story.expected
    assert len({(i["kind"], i["id"]) for i in seen}) == len(seen)


def test_before_accepts_a_time(client: TestClient, story: Story) -> None:
    body = _page(client, story.customer, before="2026-01-01T08:02:00+08:00")
    assert _triples(body["items"]) == story.expected[5:]


def test_bad_before_is_422(client: TestClient, story: Story) -> None:
    response = client.get(f"/api/v1/customers/{story.customer}/timeline", params={"before": "last week"})
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_time")


def test_merged_id_and_scoping(settings: Settings, db_engine: Engine, client: TestClient, story: Story) -> None:
    body = _page(client, story.tombstone)
    assert body["customer_id"] == story.customer and len(body["items"]) == len(story.expected)
    app = create_app(settings, db_engine)
    assert as_principal(app, staff_principal(story.staff)).get(
        f"/api/v1/customers/{story.customer}/timeline").status_code == 200
    assert as_principal(app, staff_principal(story.staff)).get(
        f"/api/v1/customers/{story.other}/timeline").status_code == 404


def test_read_services_directly(db_engine: Engine, story: Story) -> None:
    with unit_of_work(db_engine) as s:
        ids = [story.phone, story.union]
        events = events_before(s, ids, before=(at(2), 10**9), limit=10)
        assert [e.type for e in events] == ["share", "add_to_cart", "page_view"]
        facts = order_facts_before(s, ids, before=None, limit=2)
        assert [f.status for f in facts] == ["refunded", "paid"]
        summary = order_summary(s, ids)
        assert (summary.count, summary.paid_count, summary.paid_net_fen, summary.refunded_fen) == (1, 1, 9000, 900)
        assert order_summary(s, []).count == 0
        assert events_before(s, [], before=None, limit=5) == []


def _pii_reads(engine: Engine, customer_id: int) -> list[dict]:  # type: ignore[type-arg]
    with unit_of_work(engine) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "pii.read", AuditEntry.target_type == "customer",
                                                  AuditEntry.target_id == str(customer_id))).all()
        return [r.detail for r in rows]


def test_personal_data_in_event_properties_is_masked_unless_the_reader_may_see_it(
        settings: Settings, db_engine: Engine, vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        cid = make_customer(s, vault).id
        ident = make_identity(s, vault, cid, "unionid", "unionLEAD01")
        lead = make_event(s, ident, "lead_submitted", occurred_at=at(1),
                          properties={"name": "张三", "phone": "13912345678", "note": "回电 13912345678", "form": "f1"})
        make_event(s, ident, "page_view", occurred_at=at(0), properties={"content_id": "c1"})
        staff = make_staff(s)
        make_ownership(s, ident, staff)
    app = create_app(settings, db_engine)
    masked = as_principal(app, staff_principal(staff.id)).get(f"/api/v1/customers/{cid}/timeline").json()["items"]
    assert masked[0]["properties"] == {"name": "张*", "phone": "139****5678", "note": "回电 139****5678", "form": "f1"}
    assert masked[1]["properties"] == {"content_id": "c1"}
    assert _pii_reads(db_engine, cid) == []
    plain = as_principal(app, SYSTEM).get(f"/api/v1/customers/{cid}/timeline", params={"limit": 1}).json()["items"]
    assert plain[0]["properties"]["phone"] == "13912345678"
    assert _pii_reads(db_engine, cid) == [{"event_properties": [lead.id]}]
    as_principal(app, SYSTEM).get(f"/api/v1/customers/{cid}/timeline", params={"before": "2026-01-01T08:01:00+08:00"})
    assert len(_pii_reads(db_engine, cid)) == 1  # a page without personal data is not a PII read
