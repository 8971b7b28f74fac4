"""Consent facts: consent events append records; the customer shows the latest per channel."""

from __future__ import annotations

from domains.ingest.conftest import event
from sqlalchemy import select

from siyu.db.engine import unit_of_work
from siyu.domains.identity import Identity
from siyu.domains.identity import service as identity

PERSON = {"openid:wxmini": "oMINI000777", "phone": "13712345678"}


def test_latest_consent_per_channel_is_shown(client, keys):
    res = client.post("/api/v1/events", json={"events": [
        event(1, type="consent_granted", identities=PERSON, properties={"channel": "sms"}),
        event(2, type="consent_granted", identities=PERSON, properties={"channel": "wecom"},
              occurred_at="2026-11-20T11:00:00+08:00"),
        event(3, type="consent_withdrawn", identities=PERSON, properties={"channel": "sms", "keyword": "退订"},
              occurred_at="2026-11-21T09:00:00+08:00")]})
    assert res.json()["accepted"] == 3
    found = client.get("/api/v1/customers", params={"identity": "phone:13712345678"},
                       headers={"Authorization": f"Bearer {keys['admin']}"}).json()
    cid = found["items"][0]["id"]
    detail = client.get(f"/api/v1/customers/{cid}", headers={"Authorization": f"Bearer {keys['admin']}"}).json()
    assert [(c["channel"], c["purpose"], c["granted"], c["source"]) for c in detail["consents"]] == [
        ("sms", "marketing", False, "event:ev-3"), ("wecom", "marketing", True, "event:ev-2")]


def test_consent_event_needs_a_channel(client):
    res = client.post("/api/v1/events", json={"events": [event(1, type="consent_withdrawn", properties={})]})
    assert [(r["code"], r["field"]) for r in res.json()["rejected"]] == [("missing_property", "properties")]


def _consents(client, keys, cid: int) -> list[tuple[str, bool]]:
    detail = client.get(f"/api/v1/customers/{cid}", headers={"Authorization": f"Bearer {keys['admin']}"}).json()
    return [(c["channel"], c["granted"]) for c in detail["consents"]]


def _customer(client, keys, identity: str) -> int:
    found = client.get("/api/v1/customers", params={"identity": identity},
                       headers={"Authorization": f"Bearer {keys['admin']}"}).json()
    return found["items"][0]["id"]


def test_a_consent_follows_the_identity_it_came_through(client, keys, db_engine):
    """Consents anchor on identities: merged in, they count for the survivor; split off, they leave with the
    identity they were given through."""
    client.post("/api/v1/events", json={"events": [
        event(1, type="consent_withdrawn", identities={"openid:wxmini": "oSPLIT00001"}, properties={"channel": "sms"}),
        event(2, type="consent_granted", identities={"phone": "13712340000"}, properties={"channel": "wecom"},
              occurred_at="2026-11-20T11:00:00+08:00")]})
    assert _consents(client, keys, _customer(client, keys, "phone:13712340000")) == [("wecom", True)]
    client.post("/api/v1/events", json={"events": [event(3, type="content_viewed", identities={
        "openid:wxmini": "oSPLIT00001", "phone": "13712340000"}, occurred_at="2026-11-20T12:00:00+08:00")]})
    merged = _customer(client, keys, "phone:13712340000")
    assert _consents(client, keys, merged) == [("sms", False), ("wecom", True)]  # one person now
    with unit_of_work(db_engine) as s:
        openid = s.scalars(select(Identity.id).where(Identity.kind == "openid:wxmini")).one()
        identity.split_identities(s, merged, [openid], actor="test", reason="two people")
    assert _consents(client, keys, _customer(client, keys, "phone:13712340000")) == [("wecom", True)]
    assert _consents(client, keys, _customer(client, keys, "openid:wxmini:oSPLIT00001")) == [("sms", False)]
