"""The HTTP contract every endpoint shares: writes are committed before they are acknowledged,
errors use one JSON shape, and oversized bodies are refused with 413 however they are sent."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from siyu.db.engine import unit_of_work
from siyu.domains.access import service as access
from siyu.web.app import create_app


@pytest.fixture
def admin_key(db_engine):
    with unit_of_work(db_engine) as s:
        return access.create_api_key(s, "admin", ["admin"])[1]


def test_a_write_commits_before_the_response_starts(settings, db_engine, admin_key):
    app = create_app(settings, db_engine)
    order: list[str] = []
    event.listen(app.state.sessionmaker, "after_commit", lambda _s: order.append("commit"))

    async def recording(scope, receive, send):
        async def spy(message):
            if message["type"] == "http.response.start":
                order.append("response")
            await send(message)
        await app(scope, receive, spy)

    with TestClient(recording) as client:
        res = client.post("/api/v1/staff", json={"userid": "li.na", "name": "李娜"},
                          headers={"Authorization": f"Bearer {admin_key}"})
    assert res.status_code == 201
    assert order.index("commit") < order.index("response"), order


def test_unknown_paths_and_methods_use_the_error_shape(settings, db_engine):
    with TestClient(create_app(settings, db_engine)) as client:
        missing = client.get("/api/v1/nothing-here")
        wrong = client.delete("/healthz")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")


def test_chunked_body_over_the_limit_is_413(settings, db_engine, admin_key):
    settings.max_body_bytes = 2048

    def chunks():
        yield b'{"events": ['
        for _ in range(100):
            yield b'"' + b"x" * 100 + b'",'
        yield b'"x"]}'

    with TestClient(create_app(settings, db_engine)) as client:
        res = client.post("/api/v1/events", content=chunks(), headers={
            "Authorization": f"Bearer {admin_key}", "content-type": "application/json"})
    assert res.status_code == 413
    assert res.json()["error"]["code"] == "payload_too_large"


def test_chunked_body_under_the_limit_is_read(settings, db_engine, admin_key):
    def chunks():
        yield b'{"events": '
        yield b"[]}"

    with TestClient(create_app(settings, db_engine)) as client:
        res = client.post("/api/v1/events", content=chunks(), headers={
            "Authorization": f"Bearer {admin_key}", "content-type": "application/json"})
    assert res.json() == {"accepted": 0, "duplicates": 0, "rejected": []}
