"""Every request logs one key=value line carrying its request id."""

from __future__ import annotations

from fastapi.testclient import TestClient

from siyu.web.app import create_app


def test_request_line_carries_the_request_id(settings, db_engine, capsys):
    with TestClient(create_app(settings, db_engine)) as client:
        res = client.get("/healthz", headers={"x-request-id": "req-abc123"})
    assert res.headers["x-request-id"] == "req-abc123"
    lines = [line for line in capsys.readouterr().err.splitlines() if "event='request'" in line]
    assert lines, "no request line was logged"
    assert "request_id='req-abc123'" in lines[-1] and "status=200" in lines[-1] and "path='/healthz'" in lines[-1]


def test_every_response_says_how_long_the_server_took(settings, db_engine):
    with TestClient(create_app(settings, db_engine)) as client:
        res = client.get("/healthz")
        missing = client.get("/api/v1/nothing-here")
    for response in (res, missing):
        name, _, duration = response.headers["server-timing"].partition(";dur=")
        assert name == "app" and float(duration) >= 0
