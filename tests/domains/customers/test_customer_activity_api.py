"""GET /customers with an activity filter: what it lists, and its refusals with stable codes by field.

Exactness against a plain recomputation on a large generated brand is in tests/analytics/test_activity_lists.py;
this checks the HTTP face on the small brand of the customers tests.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .conftest import World

DAY = {"activity_from": "2026-01-01", "activity_to": "2026-01-01"}  # the brand's facts are on that day (Shanghai)


def _ids(client: TestClient, **params: object) -> list[int]:
    response = client.get("/api/v1/customers", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_activities_over_a_day(admin: TestClient, world: World) -> None:
    assert _ids(admin, activity="ordered", **DAY) == [world.zhang]
    assert _ids(admin, activity="repurchased", **DAY) == [world.zhang]  # the second, refunded in part, was paid too
    assert _ids(admin, activity="lost", **DAY) == [world.wang]  # alice was wang's only connection
    assert _ids(admin, activity="contact_deleted", activity_staff="alice", **DAY) == [world.wang]
    assert _ids(admin, activity="contact_added", activity_code=str(world.code), **DAY) == [world.zhang]
    assert _ids(admin, activity="group_left", activity_group="chatOld", **DAY) == [world.zhang]
    assert _ids(admin, activity="connected", activity_to="2026-01-01") == [world.li, world.zhang]
    assert _ids(admin, activity="active", activity_from="2025-12-30", activity_to="2025-12-31") == []


@pytest.mark.parametrize(("params", "code", "field"), [
    ({"activity": "bogus", **DAY}, "invalid_activity", "activity"),
    ({"activity_from": "2026-01-01"}, "activity_required", "activity"),
    ({"activity": "lost", "activity_from": "2026-01-01"}, "missing_day", "activity_to"),
    ({"activity": "lost", "activity_to": "2026-01-01"}, "missing_day", "activity_from"),
    ({"activity": "lost", "activity_from": "01/01/2026", "activity_to": "2026-01-01"}, "invalid_day", "activity_from"),
    ({"activity": "lost", "activity_from": "2026-01-02", "activity_to": "2026-01-01"}, "invalid_period", "activity_to"),
    ({"activity": "connected", **DAY}, "activity_field_unused", "activity_from"),
    ({"activity": "group_left", "activity_staff": "alice", **DAY}, "activity_field_unused", "activity_staff"),
    ({"activity": "contact_added", "activity_code": "x1", **DAY}, "invalid_activity_code", "activity_code"),
])
def test_bad_activity_filters_are_422_with_the_field(admin: TestClient, world: World, params: dict[str, str],
                                                     code: str, field: str) -> None:
    response = admin.get("/api/v1/customers", params=params)
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["details"]["field"]) == (422, code, field)
