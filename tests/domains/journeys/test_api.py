"""Journeys over HTTP: create from a template, validate with step-level errors, publish, enrol, counts, trace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from domains.journeys.helpers import context, run
from factories import make_api_key, make_customer
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow
from siyu.web.app import create_app

SIMPLE = {"trigger": {"type": "manual"}, "holdout_percent": 0, "steps": [
    {"id": "tag", "type": "add_tag", "tag": "试用", "next": "wait"},
    {"id": "wait", "type": "wait", "duration": {"days": 1}, "next": "bye"},
    {"id": "bye", "type": "send_message", "channel": "wecom", "content": {"text": "再见"}}]}


@pytest.fixture
def api(db_engine: Engine, settings: Settings) -> Iterator[tuple[TestClient, dict[str, str], list[int]]]:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        _, admin = make_api_key(s, "admin")
        people = [make_customer(s, vault).id for _ in range(3)]
    with TestClient(create_app(settings, db_engine)) as client:
        yield client, {"Authorization": f"Bearer {admin}"}, people


def test_lifecycle_over_http(api: tuple[TestClient, dict[str, str], list[int]], db_engine: Engine,
                             settings: Settings) -> None:
    client, h, people = api
    made = client.post("/api/v1/journeys", json={"name": "试用", "definition": SIMPLE}, headers=h)
    assert made.status_code == 201, made.text
    assert (made.json()["status"], made.json()["current_version"]) == ("draft", 1)
    refused = client.post("/api/v1/journeys/试用/enrol", json={"customer_ids": people}, headers=h)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "journey_not_active")
    assert client.post("/api/v1/journeys/试用/publish", headers=h).json()["status"] == "active"
    assert client.post("/api/v1/journeys/试用/enrol", json={"customer_ids": people}, headers=h).json() == {"entered": 3}
    missing = client.post("/api/v1/journeys/试用/enrol", json={"customer_ids": [999999]}, headers=h)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "customer_not_found")
    run(db_engine, context(settings), utcnow())  # the API enrols with the real clock
    counts = {c["step"]: (c["entered"], c["waiting"], c["done"])
              for c in client.get("/api/v1/journeys/试用/counts", headers=h).json()["items"]}
    assert counts == {"tag": (3, 0, 3), "wait": (3, 3, 0), "bye": (0, 0, 0)}
    trace = client.get(f"/api/v1/journeys/customers/{people[0]}/trace", headers=h).json()["items"]
    assert [s["step"] for s in trace[0]["steps"]] == ["tag"] and trace[0]["step"] == "wait"
    edited = client.put("/api/v1/journeys/试用/definition", json={"definition": SIMPLE}, headers=h).json()
    assert edited["version"] == 2
    assert [v["version"] for v in client.get("/api/v1/journeys/试用/versions", headers=h).json()["items"]] == [1, 2]
    assert client.post("/api/v1/journeys/试用/migrate", json={"from_version": 1}, headers=h).json() == {"moved": 3}
    assert client.post("/api/v1/journeys/试用/pause", headers=h).json()["status"] == "paused"
    conv = client.get("/api/v1/journeys/试用/conversion", headers=h).json()
    assert conv["goal"] is None and conv["treatment"]["enrolled"] == 3


def test_bad_definitions_answer_422_naming_the_step(api: tuple[TestClient, dict[str, str], list[int]]) -> None:
    client, h, _ = api
    bad = {"trigger": {"type": "segment_entered", "segment": 404}, "steps": [
        {"id": "a", "type": "branch", "rule": {"attribute": "nope", "op": "eq", "value": 1}, "yes": "b", "no": "b"},
        {"id": "b", "type": "enrol", "journey": "missing"}]}
    answer = client.post("/api/v1/journeys/validate", json={"definition": bad}, headers=h)
    assert answer.status_code == 422
    errors = answer.json()["error"]["details"]["errors"]
    assert [(e["path"], e["code"], e.get("step")) for e in errors] == [
        ("$.trigger.segment", "unknown_segment", None),
        ("$.steps[0].rule.attribute", "unknown_attribute", "a"),
        ("$.steps[1].journey", "unknown_journey", "b")]
    loop = {"trigger": {"type": "manual"}, "steps": [{"id": "a", "type": "add_tag", "tag": "x", "next": "a"}]}
    made = client.post("/api/v1/journeys", json={"name": "loop", "definition": loop}, headers=h)
    assert made.status_code == 422 and made.json()["error"]["details"]["errors"][0]["code"] == "loop_without_wait"
    templ = client.post("/api/v1/journeys", json={"name": "生日", "template": "birthday"}, headers=h)
    assert templ.status_code == 201 and templ.json()["trigger_type"] == "date"
    names = [t["name"] for t in client.get("/api/v1/journeys/templates", headers=h).json()["items"]]
    assert "win_back_60d" in names and len(names) == 10
    assert client.post("/api/v1/journeys", json={"name": "x", "template": "nope"}, headers=h).json()["error"]["code"] \
        == "unknown_template"
