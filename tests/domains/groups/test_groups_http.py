"""Groups over HTTP: listing with member counts and a group's members."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from factories import make_customer, make_identity
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access.service import create_api_key
from siyu.domains.events import AcceptedEvent
from siyu.domains.groups.service import apply_group_events
from siyu.kit.crypto import PiiVault
from siyu.kit.time import UTC
from siyu.web.app import create_app

T = datetime(2026, 3, 1, tzinfo=UTC)


def test_list_and_members(settings: Settings, db_engine: Engine) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        _, token = create_api_key(s, "admin", ["admin"])
        people = []
        for i in range(2):
            c = make_customer(s, vault)
            people.append((c.id, make_identity(s, vault, c.id, "external_userid", f"wm{i}").id))
        events = [AcceptedEvent(id=i, event_id=f"g{i}", type=t, occurred_at=T, identity_id=iid, customer_id=cid,
                                channel="wecom", properties={"chat_id": "wr1", "group_name": "VIP"})
                  for i, (t, (cid, iid)) in enumerate([("group_joined", people[0]), ("group_joined", people[1])])]
        apply_group_events(s, events)
    with TestClient(create_app(settings, db_engine)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        groups = client.get("/api/v1/groups").json()
        assert [(g["chat_id"], g["name"], g["members"]) for g in groups["items"]] == [("wr1", "VIP", 2)]
        group_id = groups["items"][0]["id"]
        members = client.get(f"/api/v1/groups/{group_id}/members", params={"limit": 1}).json()
        assert [m["identity_id"] for m in members["items"]] == [people[0][1]]
        rest = client.get(f"/api/v1/groups/{group_id}/members", params={"cursor": members["next_cursor"]}).json()
        assert [m["identity_id"] for m in rest["items"]] == [people[1][1]]
        assert client.get(f"/api/v1/groups/{group_id}").json()["members"] == 2
        assert client.get("/api/v1/groups/999/members").status_code == 404
