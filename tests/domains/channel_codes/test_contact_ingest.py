"""End to end: contact and group events posted to /api/v1/events reach the channel-code and group handlers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access.service import create_api_key
from siyu.domains.channel_codes import service
from siyu.domains.channel_codes.service import PoolEntry
from siyu.domains.customers import Customer
from siyu.domains.groups.models import GroupMembership
from siyu.domains.outbox.models import OutboxMessage
from siyu.domains.staff.models import Ownership, Staff
from siyu.domains.staff.service import create_staff
from siyu.web.app import create_app


@pytest.fixture
def client(settings: Settings, db_engine: Engine) -> Iterator[TestClient]:
    with unit_of_work(db_engine) as s:
        _, token = create_api_key(s, "ingest", ["ingest"])
        create_staff(s, "alice", "Alice")
        create_staff(s, "bob", "Bob")
        service.create_code(s, name="海报", platform="poster", strategy="round_robin", state="poster-1",
                            pool=[PoolEntry("alice"), PoolEntry("bob")], tags=["海报"],
                            welcome_template="hi {staff_name}")
    with TestClient(create_app(settings, db_engine)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def _event(n: int, type_: str, at: str, **props: object) -> dict[str, object]:
    return {"event_id": f"c-{n}", "type": type_, "occurred_at": at, "channel": "wecom",
            "identities": {"external_userid": f"wmEXT{n % 2:04d}"}, "properties": props}


def test_contact_and_group_events_through_ingestion(client: TestClient, db_engine: Engine) -> None:
    batch = [_event(0, "contact_added", "2026-01-05T10:00:00+08:00", state="poster-1", welcome_code="w0"),
             _event(1, "contact_added", "2026-01-05T10:01:00+08:00", state="poster-1", staff_userid="alice"),
             _event(2, "group_joined", "2026-01-05T10:02:00+08:00", chat_id="wr1", group_name="VIP"),
             _event(3, "contact_deleted_by_customer", "2026-01-06T09:00:00+08:00", staff_userid="alice")]
    res = client.post("/api/v1/events", json={"events": batch})
    assert res.json() == {"accepted": 4, "duplicates": 0, "rejected": []}, res.text
    assert client.post("/api/v1/events", json={"events": batch}).json()["duplicates"] == 4
    with unit_of_work(db_engine) as s:
        rows = s.execute(select(Staff.userid, Ownership.removed_by).join(Staff, Staff.id == Ownership.staff_id)
                         .order_by(Ownership.id)).all()
        assert [tuple(r) for r in rows] == [("alice", None), ("alice", "customer")]
        assert s.scalars(select(OutboxMessage.payload)).all()[0]["text"] == "hi Alice"
        assert len(s.scalars(select(GroupMembership)).all()) == 1
        assert {c.source_platform for c in s.scalars(select(Customer))} == {"poster"}
        stats = service.code_stats(s, 1, 2, today=date(2026, 1, 6))
        assert (stats.added, stats.lost) == (2, 1)
