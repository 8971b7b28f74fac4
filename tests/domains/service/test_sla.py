"""The daily SLA report equals a plain minute-by-minute reference, across nights and Shanghai midnight."""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from factories import make_customer, make_event, make_ownership, make_staff
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.identity import Identity
from siyu.domains.service import daily_report, process_new
from siyu.domains.service import service as svc
from siyu.kit.crypto import PiiVault
from siyu.kit.time import UTC

SH = ZoneInfo("Asia/Shanghai")
HOURS = {d: [["09:00", "12:00"], ["13:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def sh(day: int, hh: int, mm: int) -> datetime:
    """Return January ``day`` 2026 at hh:mm in Shanghai (the 5th is a Monday)."""
    return datetime(2026, 1, day, hh, mm, tzinfo=SH)


# (customer, staff, message at, first reply at or None)
SCENARIOS = [
    (0, "a", sh(5, 8, 50), sh(5, 9, 20)),     # before opening: 20 working minutes, within
    (1, "a", sh(5, 11, 50), sh(5, 13, 25)),   # across lunch: 10 + 25 = 35, late
    (2, "a", sh(5, 17, 50), sh(6, 9, 15)),    # overnight: 10 + 15 = 25, within
    (3, "a", sh(5, 23, 59), sh(6, 9, 31)),    # Monday in Shanghai (Monday 15:59 UTC): 31, late
    (4, "a", sh(6, 0, 1), sh(6, 9, 5)),       # Tuesday in Shanghai but Monday 16:01 in UTC: 5, within
    (5, "a", sh(5, 10, 0), None),             # never answered: breach once Monday 10:30 has passed
    (6, "b", sh(5, 12, 30), sh(5, 12, 40)),   # staff b has no hours: 10 wall-clock minutes
    (7, "b", sh(9, 17, 45), sh(12, 9, 0)),    # b over a weekend, always open: late
]


def reference_minutes(hours: dict, start: datetime, end: datetime) -> int:
    n, t = 0, start
    while t < end:
        local = t.astimezone(SH)
        clock = local.strftime("%H:%M")
        n += not hours or any(a <= clock < b for a, b in hours.get(DAYS[local.weekday()], []))
        t += timedelta(minutes=1)
    return n


def reference(day: date, as_of: datetime) -> dict:
    rows: dict[str, dict] = {}
    for _c, staff, start, reply in SCENARIOS:
        if start.date() != day:
            continue
        hours = HOURS if staff == "a" else {}
        row = rows.setdefault(staff, {"n": 0, "replied": 0, "within": 0, "breaches": 0, "times": []})
        row["n"] += 1
        if reply is not None:
            minutes = reference_minutes(hours, start, reply)
            row["replied"] += 1
            row["times"].append(minutes * 60)
            row["within"] += minutes <= 30
            row["breaches"] += minutes > 30
        else:
            row["breaches"] += reference_minutes(hours, start, as_of) >= 30
    return {k: (v["n"], v["replied"], v["within"], v["breaches"],
                float(statistics.median(v["times"])) if v["times"] else None) for k, v in rows.items()}


def test_daily_report_equals_the_reference(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        staff = {"a": make_staff(s, "a"), "b": make_staff(s, "b")}
        svc.set_staff_settings(s, "a", working_hours=HOURS, actor="test")
        for i, who, start, reply in SCENARIOS:
            make_customer(s, vault, identities={"external_userid": f"wm{i}"})
            ident = s.scalars(select(Identity).where(Identity.value == f"wm{i}")).one()
            make_ownership(s, ident, staff[who])
            make_event(s, ident, "message_received", occurred_at=start.astimezone(UTC),
                       properties={"text": "在吗", "staff_userid": who}, channel="wecom")
            if reply is not None:
                make_event(s, ident, "message_sent", occurred_at=reply.astimezone(UTC),
                           properties={"text": "您好", "staff_userid": who}, channel="wecom")
    with unit_of_work(db_engine) as s:
        assert process_new(s, data_dir=settings.data_dir, tz=SH).clocks_started == len(SCENARIOS)
    for day in (date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 9)):
        for as_of in (sh(5, 10, 29), sh(5, 10, 30), sh(20, 0, 0)):
            with unit_of_work(db_engine, write=False) as s:
                got = {r.userid: (r.conversations, r.replied, r.replied_within, r.breaches,
                                  r.median_first_response_seconds)
                       for r in daily_report(s, day, SH, as_of=as_of.astimezone(UTC))}
            assert got == reference(day, as_of), (day, as_of)
    with unit_of_work(db_engine, write=False) as s:
        monday = {r.userid: r for r in daily_report(s, date(2026, 1, 5), SH, as_of=sh(20, 0, 0))}
    assert (monday["a"].conversations, monday["a"].replied_within, monday["a"].breaches) == (5, 2, 3)
    assert monday["a"].median_first_response_seconds == 28 * 60  # 20, 25, 31, 35 minutes
