"""Staff tasks: idempotent creation, listing with a cursor, closing once, staff scoping over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import T0, as_principal, make_api_key, make_staff, staff_principal
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.tasks import NewTask, close_task, count_tasks, create_tasks, list_tasks
from siyu.domains.tasks.models import StaffTask
from siyu.errors import SiyuError
from siyu.web.app import create_app


def test_create_is_idempotent_by_key(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        made = create_tasks(s, [NewTask("k1", " 回访 ", staff_id=1, customer_id=7, due_at=T0, source="journey:3"),
                                NewTask("k2", "确认群发", staff_id=1, source="mass_message:9")], now=T0)
        assert [(t.title, t.status, t.source, t.due_at) for t in made] == [
            ("回访", "open", "journey:3", T0), ("确认群发", "open", "mass_message:9", None)]
    with unit_of_work(db_engine) as s:
        again = create_tasks(s, [NewTask("k1", "changed title", staff_id=2)], now=T0 + timedelta(days=1))
        assert [(t.id, t.title, t.staff_id) for t in again] == [(made[0].id, "回访", 1)]
        assert s.scalar(select(func.count()).select_from(StaffTask)) == 2


def test_bad_title_is_refused(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s, pytest.raises(SiyuError) as info:
        create_tasks(s, [NewTask("k", "  ")])
    assert (info.value.code, info.value.status, info.value.details) == ("invalid_task", 422, {"field": "title"})


def test_list_pages_filters_and_closes_once(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        ids = [t.id for t in create_tasks(s, [NewTask(f"k{i}", f"t{i}", staff_id=i % 2, source=f"journey:{i}")
                                              for i in range(5)])]
    with unit_of_work(db_engine) as s:
        first = list_tasks(s, staff_id=0, limit=2)
        assert [t.id for t in first.items] == [ids[0], ids[2]] and first.next_cursor == ids[2]
        rest = list_tasks(s, staff_id=0, limit=2, cursor=first.next_cursor)
        assert [t.id for t in rest.items] == [ids[4]] and rest.next_cursor is None
        assert [t.id for t in list_tasks(s, source="journey:1").items] == [ids[1]]
        done = close_task(s, ids[0], "done", actor="user:a")
        assert (done.status, done.closed_by) == ("done", "user:a") and done.closed_at is not None
        with pytest.raises(SiyuError) as info:
            close_task(s, ids[0], "cancelled", actor="user:a")
        assert (info.value.code, info.value.status) == ("task_closed", 409)
        assert count_tasks(s, staff_id=0) == {"open": 2, "done": 1, "cancelled": 0}
        assert [t.id for t in list_tasks(s, status="done").items] == [ids[0]]


def test_http_inbox_scopes_staff_to_their_own_tasks(db_engine: Engine, settings: Settings) -> None:
    with unit_of_work(db_engine) as s:
        mine, other = make_staff(s, "mine").id, make_staff(s, "other").id
        create_tasks(s, [NewTask("a", "mine", staff_id=mine), NewTask("b", "theirs", staff_id=other)])
        _, admin = make_api_key(s, "admin")
    app = create_app(settings, db_engine)
    with TestClient(app) as client:
        h = {"Authorization": f"Bearer {admin}"}
        made = client.post("/api/v1/tasks", json={"title": "打电话", "staff_id": other, "idempotency_key": "x"}, headers=h)
        assert made.status_code == 201, made.text
        replay = client.post("/api/v1/tasks", json={"title": "打电话", "staff_id": other, "idempotency_key": "x"},
                             headers=h)
        assert replay.json()["id"] == made.json()["id"]
        listed = client.get("/api/v1/tasks", params={"staff_id": other}, headers=h).json()
        assert [i["title"] for i in listed["items"]] == ["theirs", "打电话"] and listed["counts"]["open"] == 2
        assert client.post("/api/v1/tasks", json={"title": ""}, headers=h).status_code == 422
        assert client.get("/api/v1/tasks", params={"status": "maybe"}, headers=h).json()["error"]["code"] == \
            "invalid_status"
    staff = as_principal(app, staff_principal(mine))
    with staff:
        seen = staff.get("/api/v1/tasks", params={"staff_id": other}).json()["items"]
        assert [i["title"] for i in seen] == ["mine"]
        theirs = made.json()["id"]
        assert staff.post(f"/api/v1/tasks/{theirs}/complete").json()["error"]["code"] == "task_not_found"
        done = staff.post(f"/api/v1/tasks/{seen[0]['id']}/complete")
        assert done.json()["status"] == "done" and done.json()["closed_by"] == f"user:staff{mine}"
        assert staff.post(f"/api/v1/tasks/{seen[0]['id']}/cancel").json()["error"]["code"] == "task_closed"
