"""POST /api/v1/events: acceptance, idempotency, per-item rejections and whole-request errors."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from domains.ingest.conftest import event
from siyu.db.engine import unit_of_work
from siyu.domains.customers import Customer
from siyu.domains.events import Event
from siyu.domains.identity import IdentityIssue


def _count(engine, model) -> int:
    with unit_of_work(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def test_batch_is_accepted_and_replay_is_all_duplicates(client, db_engine):
    batch = {"events": [event(n) for n in range(50)]}
    first = client.post("/api/v1/events", json=batch)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 50, "duplicates": 0, "rejected": []}
    again = client.post("/api/v1/events", json=batch)
    assert again.json() == {"accepted": 0, "duplicates": 50, "rejected": []}
    assert _count(db_engine, Event) == 50
    assert _count(db_engine, Customer) == 50


def test_duplicate_inside_one_batch_counts_once(client, db_engine):
    res = client.post("/api/v1/events", json={"events": [event(1), event(1), event(2)]})
    assert res.json() == {"accepted": 2, "duplicates": 1, "rejected": []}


def test_identities_in_one_event_make_one_customer(client, db_engine):
    client.post("/api/v1/events", json={"events": [
        event(1, identities={"openid:wxmini": "oMINI000001"}),
        event(2, identities={"phone": "+86 139-1234-5678"}),
        event(3, type="lead_submitted", identities={"openid:wxmini": "oMINI000001", "phone": "13912345678"})]})
    with unit_of_work(db_engine) as s:
        live = s.scalar(select(func.count()).select_from(Customer).where(Customer.merged_into_id.is_(None)))
    assert live == 1


BAD_ITEMS = [
    ({"occurred_at": "yesterday"}, "bad_timestamp", "occurred_at"),
    ({"occurred_at": "2026-11-20T10:00:00"}, "bad_timestamp", "occurred_at"),
    ({"occurred_at": "0001-01-01T00:00:00+08:00"}, "bad_timestamp", "occurred_at"),  # before year 1 in UTC
    ({"identities": {"qq": "1234567"}}, "unknown_identity_kind", "identities"),
    ({"identities": {"phone": "12345"}}, "invalid_identity", "identities"),
    ({"identities": {"unionid": "null"}}, "no_valid_identity", "identities"),
    ({"identities": {}}, "empty_field", "identities"),
    ({"type": "Not A Type"}, "unknown_event_type", "type"),
    ({"type": "group_joined"}, "missing_property", "properties"),
    ({"colour": "red"}, "unknown_field", "colour"),
    ({"event_id": 12}, "invalid_type", "event_id"),
    ({"properties": {"blob": "x" * 20000}}, "properties_too_large", "properties"),
    ({"type": "contact_added", "properties": {"state": "no-such-state"}}, "unknown_state", "properties.state"),
]


@pytest.mark.parametrize(("change", "code", "field"), BAD_ITEMS, ids=[b[1] + ":" + b[2] for b in BAD_ITEMS])
def test_bad_item_is_rejected_alone(client, db_engine, change, code, field):
    bad = event(2, **change)
    res = client.post("/api/v1/events", json={"events": [event(1), bad, event(3)]})
    assert res.status_code == 200
    body = res.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    [rej] = body["rejected"]
    assert (rej["index"], rej["code"], rej["field"]) == (1, code, field)
    assert rej["message"]
    assert _count(db_engine, Event) == 2


def test_missing_event_id_is_missing_field(client):
    bad = event(1)
    del bad["event_id"]
    [rej] = client.post("/api/v1/events", json={"events": [bad]}).json()["rejected"]
    assert (rej["code"], rej["field"]) == ("missing_field", "event_id")


def test_junk_identity_is_recorded_but_event_kept(client, db_engine):
    res = client.post("/api/v1/events", json={"events": [event(1, identities={"openid:wxmini": "oMINI000001", "phone": "undefined"})]})
    assert res.json()["accepted"] == 1
    with unit_of_work(db_engine) as s:
        issue = s.scalars(select(IdentityIssue)).one()
    assert (issue.category, issue.kind, issue.cause_ref) == ("junk", "phone", "ev-1")


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"{not json", 400, "malformed_json"),
    (b"[]", 422, "invalid_batch"),
    (b'{"events": {}}', 422, "invalid_batch"),
    (b'{"events": [], "extra": 1}', 422, "unknown_field"),
])
def test_bad_request_bodies(client, body, status, code):
    res = client.post("/api/v1/events", content=body, headers={"content-type": "application/json"})
    assert res.status_code == status
    assert res.json()["error"]["code"] == code


def test_batch_over_limit_is_413(client):
    res = client.post("/api/v1/events", json={"events": [event(n) for n in range(1001)]})
    assert res.status_code == 413
    assert res.json()["error"]["code"] == "batch_too_large"


def test_body_over_size_limit_is_413(client, settings):
    blob = b'{"events": [' + b'"' + b"x" * (settings.max_body_bytes + 10) + b'"]}'
    res = client.post("/api/v1/events", content=blob, headers={"content-type": "application/json"})
    assert res.status_code == 413
    assert res.json()["error"]["code"] == "payload_too_large"


def test_missing_and_wrong_keys(client, keys):
    res = client.post("/api/v1/events", json={"events": []}, headers={"Authorization": ""})
    assert (res.status_code, res.json()["error"]["code"]) == (401, "missing_credentials")
    res = client.post("/api/v1/events", json={"events": []}, headers={"Authorization": "Bearer sk_nope"})
    assert (res.status_code, res.json()["error"]["code"]) == (401, "invalid_api_key")
    res = client.post("/api/v1/events", json={"events": [event(1)]}, headers={"Authorization": f"Bearer {keys['admin']}"})
    assert res.status_code == 200


def test_openapi_documents_the_item_shapes(client):
    doc = client.get("/openapi.json").json()
    assert {"EventBatch", "EventIn", "OrderBatch", "OrderIn"} <= set(doc["components"]["schemas"])
    assert client.get("/healthz").json()["status"] == "ok"
