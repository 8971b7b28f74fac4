"""The outbox over HTTP: messages with reasons, counts, do-not-contact CRUD, inbound keywords, the policy,
and the public one-click unsubscribe link."""

from __future__ import annotations

from factories import make_api_key
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.outbox import NewMessage, enqueue, unsubscribe_token
from siyu.web.app import create_app

from .conftest import NOON, CountingAdapter, dispatcher


def test_outbox_api(db_engine: Engine, settings: Settings) -> None:
    with unit_of_work(db_engine) as s:
        _, key = make_api_key(s, "admin")
        _, ingest = make_api_key(s, "ingest", name="feeder")
        enqueue(s, [NewMessage("a", "promo", "wecom", {}, customer_id=5, category="marketing", source="mass:1",
                               send_after=NOON),
                    NewMessage("b", "promo", "wecom", {}, customer_id=6, category="marketing", source="mass:1",
                               send_after=NOON)], now=NOON)
    with TestClient(create_app(settings, db_engine)) as client:
        h = {"Authorization": f"Bearer {key}"}
        assert client.get("/api/v1/outbox/messages", headers={"Authorization": f"Bearer {ingest}"}).status_code == 403
        r = client.post("/api/v1/outbox/do-not-contact", headers=h, json={"customer_id": 6, "note": "投诉"})
        assert r.status_code == 201
        assert [(e["customer_id"], e["channel"], e["scope"], e["note"]) for e in r.json()["items"]] == [
            (6, "*", "all", "投诉")]
        assert r.json()["items"][0]["source"].startswith("operator:")
        bad = client.post("/api/v1/outbox/do-not-contact", headers=h, json={"customer_id": 6, "scope": "x"})
        assert (bad.status_code, bad.json()["error"]["code"]) == (422, "outbox_bad_scope")
        r = client.put("/api/v1/outbox/policy", headers=h, json={"caps": [{"period": "day", "limit": 0}],
                                                                   "over_cap": "drop"})
        assert r.status_code == 200 and r.json()["over_cap"] == "drop"
        bad = client.put("/api/v1/outbox/policy", headers=h, json={"over_cap": "explode"})
        assert (bad.status_code, bad.json()["error"]["code"]) == (422, "outbox_bad_policy")
        assert client.get("/api/v1/outbox/policy", headers=h).json()["caps"] == [
            {"scope": "customer", "period": "day", "limit": 0, "channel": "*"}]
        dispatcher(db_engine, CountingAdapter()).drain(NOON)
        items = client.get("/api/v1/outbox/messages", headers=h, params={"source": "mass:"}).json()["items"]
        assert [(m["idempotency_key"], m["status"], m["reason"]) for m in items] == [
            ("b", "suppressed", "do_not_contact"), ("a", "dropped", "cap_customer_day")]
        counts = client.get("/api/v1/outbox/counts", headers=h).json()
        assert counts["by_status"] == {"suppressed": 1, "dropped": 1}
        assert counts["by_reason"] == [{"status": "dropped", "reason": "cap_customer_day", "count": 1},
                                       {"status": "suppressed", "reason": "do_not_contact", "count": 1}]
        r = client.post("/api/v1/outbox/inbound", headers=h, json={"customer_id": 5, "channel": "sms", "text": "TD"})
        assert r.json() == {"unsubscribed": True}
        entries = client.get("/api/v1/outbox/do-not-contact", headers=h, params={"scope": "marketing"}).json()["items"]
        assert [(e["customer_id"], e["channel"], e["source"]) for e in entries] == [(5, "sms", "keyword:td")]
        assert client.delete(f"/api/v1/outbox/do-not-contact/{entries[0]['id']}", headers=h).status_code == 204
        gone = client.delete(f"/api/v1/outbox/do-not-contact/{entries[0]['id']}", headers=h)
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "outbox_opt_out_not_found")

        token = unsubscribe_token(settings.effective_secret_key, 9)
        page = client.get(f"/unsubscribe/{token}")
        assert page.status_code == 200 and 'method="post"' in page.text
        assert client.get("/api/v1/outbox/do-not-contact", headers=h, params={"customer_id": 9}).json()["items"] == []
        assert client.post(f"/unsubscribe/{token}").status_code == 200
        entries = client.get("/api/v1/outbox/do-not-contact", headers=h, params={"customer_id": 9}).json()["items"]
        assert [(e["channel"], e["scope"], e["source"]) for e in entries] == [("email", "marketing", "email_link")]
        assert client.post(f"/unsubscribe/{token[:-3]}xyz").status_code == 400
        assert client.get("/unsubscribe/forged.token").status_code == 400
