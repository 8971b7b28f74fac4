"""GET /customers/{id}: the profile, PII masking and its audit, merged ids, auth."""

from __future__ import annotations

from factories import ANALYST, as_principal
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.access.models import AuditEntry

from .conftest import World


def _pii_reads(engine: Engine) -> list[AuditEntry]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "pii.read").order_by(AuditEntry.id)))


def test_admin_sees_unmasked_profile_and_the_read_is_audited(admin: TestClient, world: World, db_engine: Engine) -> None:
    body = admin.get(f"/api/v1/customers/{world.zhang}", headers={"x-request-id": "req-1"}).json()
    assert body["pii"] == "revealed"
    assert body["name"] == "张三"
    assert {(i["kind"], i["value"], i["masked"]) for i in body["identities"]} == {
        ("phone", "13812345678", False), ("unionid", "unionAAA111", False)}
    [entry] = _pii_reads(db_engine)
    assert (entry.target_type, entry.target_id, entry.request_id) == ("customer", str(world.zhang), "req-1")
    assert entry.actor.startswith("apikey:")
    assert entry.detail["name"] is True
    assert sorted(entry.detail["identity_ids"]) == sorted(i["id"] for i in body["identities"])


def test_reader_without_pii_right_gets_masked_values_and_no_audit(app: FastAPI, world: World, db_engine: Engine) -> None:
    body = as_principal(app, ANALYST).get(f"/api/v1/customers/{world.zhang}").json()
    assert body["pii"] == "masked"
    assert body["name"] == "张*"
    assert {(i["kind"], i["value"], i["masked"]) for i in body["identities"]} == {
        ("phone", "138****5678", True), ("unionid", "uni…111", True)}
    assert _pii_reads(db_engine) == []


def test_profile_lists_owners_tags_groups_and_order_summary(admin: TestClient, world: World) -> None:
    body = admin.get(f"/api/v1/customers/{world.zhang}").json()
    assert body["id"] == world.zhang and body["merged_into"] is None and body["requested_id"] == world.zhang
    assert body["source"] == {"platform": "douyin", "channel_code_id": world.code}
    assert [(o["staff_userid"], o["staff_name"], o["channel_code_id"]) for o in body["owners"]] == [
        ("alice", "Alice", world.code)]
    assert body["tags"] == ["VIP", "老客"]  # 老客 sits on a tombstone merged into zhang
    assert [g["chat_id"] for g in body["groups"]] == ["chatX"]  # chatOld was left
    assert body["orders"] == {
        "count": 3, "paid_count": 2, "paid_total": "229.00", "refunded_total": "20.00",
        "first_order_at": "2026-01-01T00:10:00Z", "last_order_at": "2026-01-01T00:30:00Z"}


def test_merged_id_answers_with_the_survivor(admin: TestClient, world: World) -> None:
    response = admin.get(f"/api/v1/customers/{world.zhang_old}")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["requested_id"], body["merged_into"]) == (world.zhang, world.zhang_old, world.zhang)
    assert body["name"] == "张三"


def test_unknown_id_is_404(admin: TestClient, world: World) -> None:
    response = admin.get("/api/v1/customers/999999")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "customer_not_found"


def test_missing_key_is_401_and_ingest_key_is_403(app: FastAPI, world: World) -> None:
    with TestClient(app) as client:
        missing = client.get(f"/api/v1/customers/{world.zhang}")
        assert (missing.status_code, missing.json()["error"]["code"]) == (401, "missing_credentials")
        ingest = client.get(f"/api/v1/customers/{world.zhang}", headers={"Authorization": f"Bearer {world.ingest_key}"})
        assert (ingest.status_code, ingest.json()["error"]["code"]) == (403, "insufficient_scope")
        listing = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {world.ingest_key}"})
        assert listing.status_code == 403
