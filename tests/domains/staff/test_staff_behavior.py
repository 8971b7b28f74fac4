"""WeCom contact statistics per staff member and day: the ingest endpoint, its refusals, a period's response."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from factories import make_staff
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access.service import create_api_key
from siyu.domains.staff import behavior
from siyu.domains.staff.models import StaffBehavior
from siyu.kit.time import local_day, utcnow
from siyu.web.app import create_app

DAY = date(2026, 3, 2)
STAT = 1772380800  # 2026-03-02 00:00 in Asia/Shanghai, as WeCom sends it


@pytest.fixture
def client(settings: Settings, db_engine: Engine) -> Iterator[TestClient]:
    with unit_of_work(db_engine) as s:
        make_staff(s, "zhangwei", "张伟")
        token = create_api_key(s, "wecom sync", ["ingest"])[1]
    with TestClient(create_app(settings, db_engine)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def _day(offset: int = 0, **figures: object) -> dict[str, object]:
    return {"stat_time": STAT + offset * 86400, "chat_cnt": 10, "message_cnt": 42, "reply_percentage": 80.5,
            "avg_reply_time": 6, "negative_feedback_cnt": 1, "new_apply_cnt": 2, "new_contact_cnt": 3, **figures}


def _stored(engine: Engine) -> list[tuple[object, ...]]:
    with unit_of_work(engine, write=False) as s:
        return [(r.day, r.chat_cnt, r.reply_rate_bp, r.avg_reply_minutes, r.new_contact_cnt)
                for r in s.scalars(select(StaffBehavior).order_by(StaffBehavior.day))]


def test_days_are_stored_and_a_day_sent_again_replaces_it(client: TestClient, db_engine: Engine) -> None:
    first = client.post("/api/v1/staff/behavior", json={"userid": "zhangwei", "behavior_data": [
        _day(0), _day(1, chat_cnt=0, message_cnt=0, reply_percentage=None, avg_reply_time=None)]})
    assert first.status_code == 200, first.text
    assert first.json() == {"userid": "zhangwei", "days": 2, "replaced": 0}
    again = client.post("/api/v1/staff/behavior", json={"userid": "zhangwei", "errcode": 0, "errmsg": "ok",
                                                       "behavior_data": [_day(1, chat_cnt=4, reply_percentage=100),
                                                                         _day(2)]})
    assert again.json() == {"userid": "zhangwei", "days": 2, "replaced": 1}
    assert _stored(db_engine) == [(DAY, 10, 8050, 6, 3), (DAY + timedelta(days=1), 4, 10000, 6, 3),
                                  (DAY + timedelta(days=2), 10, 8050, 6, 3)]


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"userid": "nobody", "behavior_data": [_day()]}, 404, "staff_not_found", None),
    ({"userid": "zhangwei", "behavior_data": [_day(), _day(0)]}, 422, "duplicate_day", "behavior_data[1].stat_time"),
    ({"userid": "zhangwei", "behavior_data": [_day(stat_time=STAT + 3600)]}, 422, "invalid_stat_time",
     "behavior_data[0].stat_time"),
    ({"userid": "zhangwei", "behavior_data": [_day(stat_time=STAT + 400 * 86400)]}, 422, "future_day",
     "behavior_data[0].stat_time"),
    ({"userid": "zhangwei", "errcode": 40001, "errmsg": "invalid credential", "behavior_data": [_day()]}, 422,
     "wecom_error", None),
])
def test_refusals_have_stable_codes_and_store_nothing(client: TestClient, db_engine: Engine, body: dict[str, object],
                                                      status: int, code: str, field: str | None) -> None:
    res = client.post("/api/v1/staff/behavior", json=body)
    assert (res.status_code, res.json()["error"]["code"]) == (status, code), res.text
    assert res.json()["error"].get("details", {}).get("field") == field
    assert _stored(db_engine) == []


@pytest.mark.parametrize(("day", "field"), [({"reply_percentage": 100.5}, "behavior_data.0.reply_percentage"),
                                            ({"reply_percentage": 66.667}, "behavior_data.0.reply_percentage"),
                                            ({"chat_cnt": -1}, "behavior_data.0.chat_cnt"),
                                            ({"chats": 3}, "behavior_data.0.chats")])
def test_figures_out_of_shape_are_refused_by_field(client: TestClient, day: dict[str, object], field: str) -> None:
    res = client.post("/api/v1/staff/behavior", json={"userid": "zhangwei", "behavior_data": [_day(**day)]})
    assert res.status_code == 422 and res.json()["error"]["code"] == "validation_error"
    assert [f["field"] for f in res.json()["error"]["fields"]] == [field]


def test_it_needs_an_ingest_key(settings: Settings, db_engine: Engine, client: TestClient) -> None:
    anonymous = TestClient(create_app(settings, db_engine))
    assert anonymous.post("/api/v1/staff/behavior", json={}).status_code == 401


def test_a_period_weights_reply_rate_by_chats_and_reply_time_by_replied_chats(db_engine: Engine, settings) -> None:
    tz = settings.tz
    days = [behavior.BehaviorDay(behavior.stat_time(DAY + timedelta(days=i), tz), chats, 0,
                                 None if pct is None else Decimal(pct), minutes, 0, 0, 0)
            for i, (chats, pct, minutes) in enumerate([(10, "90", 2), (30, "50", 20), (0, None, None), (5, "100", None)])]
    with unit_of_work(db_engine) as s:
        member = make_staff(s, "lina", "李娜")
        assert behavior.record_behavior(s, "lina", days, tz).days == 4
        got = behavior.response_between(s, [member.id], DAY, DAY + timedelta(days=3))[member.id]
        one_day = behavior.response_between(s, [member.id], DAY + timedelta(days=2), DAY + timedelta(days=2))
    # rate: (90×10 + 50×30 + 100×5) / 45 = 64.44…; time: (2×9 + 20×15) / (9 + 15) = 13.25
    assert got == behavior.Response(chats=45, reply_rate=Decimal("64.4"), avg_reply_minutes=Decimal("13.3"))
    assert one_day[member.id] == behavior.Response(chats=0, reply_rate=None, avg_reply_minutes=None)


def test_the_current_day_is_accepted_once_it_has_begun(db_engine: Engine, settings) -> None:
    tz = settings.tz
    today = local_day(utcnow(), tz)
    with unit_of_work(db_engine) as s:
        make_staff(s, "lina", "李娜")
        done = behavior.record_behavior(s, "lina", [behavior.BehaviorDay(behavior.stat_time(today, tz), 1, 1, None,
                                                                         None, 0, 0, 0)], tz)
    assert done.days == 1


def test_a_period_summed_in_the_database_equals_the_day_by_day_definition(db_engine: Engine, settings) -> None:
    """Several members over a year of days, some without a reply rate or time, with figures whose products
    (minutes × rate × chats ≈ 10^12 a year) overflow 32-bit integers on PostgreSQL unless widened."""
    tz = settings.tz
    figures = {"lina": [(4_000 + i % 7 * 900, None if i % 11 == 0 else Decimal(f"{50 + i % 50}.{i % 100:02d}"),
                         None if i % 5 == 0 else 1_000 + i % 440) for i in range(366)],
               "wangfang": [(3, Decimal("100"), 2), (0, None, None), (7, Decimal("33.33"), None)],
               "quiet": [(0, None, None)]}
    first = DAY - timedelta(days=400)
    last = first + timedelta(days=365)
    with unit_of_work(db_engine) as s:
        ids = {userid: make_staff(s, userid).id for userid in [*figures, "absent"]}
        for userid, rows in figures.items():
            behavior.record_behavior(s, userid, [
                behavior.BehaviorDay(behavior.stat_time(first + timedelta(days=i), tz), chats, 0, pct, minutes, 0, 0, 0)
                for i, (chats, pct, minutes) in enumerate(rows)], tz)
        got = behavior.response_between(s, ids.values(), first, last)
        lina_week = behavior.response_between(s, [ids["lina"]], first + timedelta(days=10), first + timedelta(days=16))
    tenth = Decimal("0.1")

    def expected(rows: list[tuple[int, Decimal | None, int | None]]) -> behavior.Response:
        rated = [(c, p, m) for c, p, m in rows if p is not None]
        timed = [(c * p / 100, m) for c, p, m in rated if m is not None]
        rate = sum(c * p for c, p, _ in rated) / sum(c for c, _, _ in rated) if sum(c for c, _, _ in rated) else None
        replied = sum(r for r, _ in timed)
        minutes = sum(r * m for r, m in timed) / replied if replied else None
        return behavior.Response(sum(c for c, _, _ in rows), rate and Decimal(rate).quantize(tenth, ROUND_HALF_UP),
                                 minutes and Decimal(minutes).quantize(tenth, ROUND_HALF_UP))

    assert set(got) == {ids["lina"], ids["wangfang"], ids["quiet"]}  # no statistics: no answer
    assert got[ids["lina"]] == expected(figures["lina"])
    assert got[ids["wangfang"]] == expected(figures["wangfang"]) == behavior.Response(10, Decimal("53.3"), Decimal("2.0"))
    assert got[ids["quiet"]] == behavior.Response(0, None, None)
    assert lina_week[ids["lina"]] == expected(figures["lina"][10:17])
