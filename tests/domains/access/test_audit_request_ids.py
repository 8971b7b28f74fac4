"""Every audit entry written while serving a request carries that request's id."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access.models import AuditEntry
from siyu.domains.access.service import audit, create_api_key
from siyu.web.app import create_app


def _entries(engine: Engine, action: str) -> list[str | None]:
    with unit_of_work(engine, write=False) as s:
        return list(s.scalars(select(AuditEntry.request_id).where(AuditEntry.action == action)))


def test_changes_over_http_are_audited_with_their_request_id(settings: Settings, db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        _, token = create_api_key(s, "admin", ["admin"])
    with TestClient(create_app(settings, db_engine)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        made = client.post("/api/v1/staff", json={"userid": "alice", "name": "Alice"},
                           headers={"x-request-id": "req-staff-1"})
        assert made.status_code == 201, made.text
        code = client.post("/api/v1/channel-codes", json={"name": "门店", "platform": "store", "pool": [{"userid": "alice"}]})
        assert code.status_code == 201, code.text
    assert _entries(db_engine, "staff.create") == ["req-staff-1"]
    assert _entries(db_engine, "channel_code.create") == [code.headers["x-request-id"]]
    with unit_of_work(db_engine) as s:  # outside any request (CLI, jobs): no id
        audit(s, "cli", "test.action", "thing", 1)
    assert _entries(db_engine, "test.action") == [None]
