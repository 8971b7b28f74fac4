"""Fixtures for ingestion tests: an app on each backend and API keys."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from siyu.db.engine import unit_of_work
from siyu.domains.access import service as access
from siyu.web.app import create_app


@pytest.fixture
def app(settings, db_engine):
    return create_app(settings, db_engine)


@pytest.fixture
def keys(db_engine):
    with unit_of_work(db_engine) as s:
        _k1, ingest = access.create_api_key(s, "ingest", ["ingest"])
        _k2, admin = access.create_api_key(s, "admin", ["admin"])
    return {"ingest": ingest, "admin": admin}


@pytest.fixture
def client(app, keys):
    with TestClient(app) as c:
        c.headers["Authorization"] = f"Bearer {keys['ingest']}"
        yield c


def event(n: int, **over):
    base = {"event_id": f"ev-{n}", "type": "content_viewed", "occurred_at": "2026-11-20T10:00:00+08:00",
            "identities": {"openid:wxmini": f"oMINI{n:06d}"}, "channel": "mini_program", "properties": {"content_id": n}}
    base.update(over)
    return base
