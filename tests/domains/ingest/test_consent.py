"""Consent facts: consent events append records; the customer shows the latest per channel."""

from __future__ import annotations

from domains.ingest.conftest import event

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
