"""GET /api/v1/analytics/rfm answers what the engine computes, to admin keys only, with clear 4xx errors."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from analytics.test_rfm import AS_OF, _orders
from siyu.analytics import rfm
from siyu.analytics.engines import open_facts
from siyu.db.engine import unit_of_work
from siyu.domains.access import service as access
from siyu.domains.ingest import service as ingest
from siyu.web.app import create_app


@pytest.fixture
def api(db_engine: Engine, settings: Any) -> tuple[TestClient, dict[str, str]]:
    ctx = ingest.IngestContext.from_settings(settings)
    orders = _orders(random.Random(5), 120)
    with unit_of_work(db_engine) as s:
        ingest.ingest_orders(s, ctx, [o for o in orders if o["status"] == "paid"])
    with unit_of_work(db_engine) as s:
        ingest.ingest_orders(s, ctx, [o for o in orders if o["status"] != "paid"])
        _k1, admin = access.create_api_key(s, "admin", ["admin"])
        _k2, ingest_key = access.create_api_key(s, "ingest", ["ingest"])
    with TestClient(create_app(settings, db_engine)) as client:
        yield client, {"admin": f"Bearer {admin}", "ingest": f"Bearer {ingest_key}"}


def test_rfm_over_http_equals_the_engine(api, db_engine: Engine, settings: Any, tmp_path: Path) -> None:
    client, keys = api
    answer = client.get("/api/v1/analytics/rfm", params={"as_of": AS_OF.isoformat(), "compare_to": "2026-05-01"},
                        headers={"Authorization": keys["admin"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    facts = open_facts(db_engine, tmp_path)
    try:
        direct = rfm.compute(facts, rfm.RfmParams(as_of=AS_OF), settings.tz)
        flows = rfm.migration(facts, rfm.RfmParams(as_of=date(2026, 5, 1)), rfm.RfmParams(as_of=AS_OF), settings.tz)
    finally:
        facts.close()
    assert body["customers"] == direct.customers > 0
    assert {s["code"]: s["customers"] for s in body["segments"]} == direct.segments
    assert {(c["r"], c["f"], c["m"]): c["customers"] for c in body["grid"]} == direct.grid
    assert {(f["from"], f["to"]): f["customers"] for f in body["migration"]["flows"]} == flows
    assert body["params"]["engine"] == ("postgres" if db_engine.dialect.name == "postgresql" else "duckdb")


@pytest.mark.parametrize("params, status, code", [
    ({"as_of": (date.today() + timedelta(days=3)).isoformat()}, 422, "as_of_in_future"),
    ({"as_of": "2026-06-30", "window_days": "0"}, 422, "invalid_rfm"),
    ({"as_of": "2026-06-30", "compare_to": "2099-01-01"}, 422, "as_of_in_future"),
    ({"as_of": "30/06/2026"}, 422, "validation_error"),
])
def test_bad_parameters_are_4xx_with_a_code(api, params, status, code) -> None:
    client, keys = api
    answer = client.get("/api/v1/analytics/rfm", params=params, headers={"Authorization": keys["admin"]})
    assert answer.status_code == status, answer.text
    if code:
        assert answer.json()["error"]["code"] == code


def test_an_ingest_key_may_not_read_analyses(api) -> None:
    client, keys = api
    answer = client.get("/api/v1/analytics/rfm", params={"as_of": "2026-06-30"}, headers={"Authorization": keys["ingest"]})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "insufficient_scope"


def test_lifecycle_over_http(api) -> None:
    client, keys = api
    answer = client.get("/api/v1/analytics/lifecycle", params={"as_of": "2026-06-30"}, headers={"Authorization": keys["admin"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [t["tier"] for t in body["tiers"]] == ["new", "lapsed", "loyal", "high_value", "low_frequency", "regular"]
    assert sum(t["customers"] for t in body["tiers"]) > 0
    future = client.get("/api/v1/analytics/lifecycle", params={"as_of": "2099-01-01"}, headers={"Authorization": keys["admin"]})
    assert future.status_code == 422 and future.json()["error"]["code"] == "as_of_in_future"


def test_aipl_over_http(api) -> None:
    client, keys = api
    answer = client.get("/api/v1/analytics/aipl", params={"as_of": "2026-06-30", "compare_to": "2026-06-01"},
                        headers={"Authorization": keys["admin"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [s["stage"] for s in body["stages"]] == ["awareness", "interest", "purchase", "loyalty"]
    assert sum(s["customers"] for s in body["stages"]) > 0 and body["compare_to"] == "2026-06-01"
    assert sum(f["customers"] for f in body["flows"]) >= sum(s["customers"] for s in body["stages"])


def test_retention_over_http(api) -> None:
    client, keys = api
    answer = client.get("/api/v1/analytics/retention", headers={"Authorization": keys["admin"]},
                        params={"from": "2026-03-01", "to": "2026-06-30", "unit": "month", "periods": "3"})
    assert answer.status_code == 200, answer.text
    cohorts = answer.json()["cohorts"]
    assert cohorts and all(c["retained"][0] == c["size"] for c in cohorts)  # first orders are activity in period 0
    bad = client.get("/api/v1/analytics/retention", headers={"Authorization": keys["admin"]},
                     params={"from": "2026-06-30", "to": "2026-03-01"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_retention"
    unit = client.get("/api/v1/analytics/retention", headers={"Authorization": keys["admin"]},
                      params={"from": "2026-03-01", "to": "2026-06-30", "unit": "year"})
    assert unit.status_code == 422 and unit.json()["error"]["code"] == "validation_error"
