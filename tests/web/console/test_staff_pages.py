"""Staff pages: the list with customers followed, transfers in service, departures, one customer handed over."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.access.models import AuditEntry
from siyu.domains.staff import behavior
from siyu.domains.staff import service as staff
from siyu.domains.staff.models import StaffTransfer
from siyu.kit.time import local_day, utcnow


def _followed(db_engine: Engine, *staff_ids: int) -> list[int]:
    with unit_of_work(db_engine, write=False) as s:
        counts = staff.active_counts(s, staff_ids)
    return [counts[i] for i in staff_ids]


def test_list_shows_each_staff_member_and_their_customers(console, brand) -> None:
    res = console("ana").get("/staff")
    assert res.status_code == 200
    row = re.search(rf'data-staff-id="{brand.alice}".*?</tr>', res.text, re.DOTALL).group(0)
    assert 'href="/customers?owner=alice">2<' in row
    page = console("ana").get(f"/staff/{brand.alice}").text
    assert "Alice" in page and 'action="/staff/' not in page  # analysts only look


def test_transfer_all_customers_in_service(console, brand, db_engine: Engine) -> None:
    client = console("ops")
    client.page(f"/staff/{brand.alice}")
    res = client.submit(f"/staff/{brand.alice}/transfer", {"to_staff": str(brand.bob)}, follow_redirects=False)
    assert res.status_code == 303
    assert _followed(db_engine, brand.alice, brand.bob) == [0, 3]
    page = client.get(f"/staff/{brand.alice}").text
    assert "在职转接" in page and re.search(r'data-label="关系数">2<', page)
    with unit_of_work(db_engine, write=False) as s:
        assert s.scalars(select(AuditEntry.actor).where(AuditEntry.action == "staff.transfer")).all() == ["user:ops"]


def test_transfer_needs_a_colleague(console, brand, db_engine: Engine) -> None:
    client = console("ops")
    client.page(f"/staff/{brand.alice}")
    none = client.submit(f"/staff/{brand.alice}/transfer", {"to_staff": ""})
    same = client.submit(f"/staff/{brand.alice}/transfer", {"to_staff": str(brand.alice)})
    assert (none.status_code, same.status_code) == (422, 422)
    assert 'data-field="to_staff">请选择接收客户的同事' in none.text
    assert 'data-field="to_staff">不能转给同一名员工' in same.text
    assert _followed(db_engine, brand.alice) == [2]


def test_departure_with_inheritance(console, brand, db_engine: Engine) -> None:
    client = console("admin")
    client.page(f"/staff/{brand.bob}")
    res = client.submit(f"/staff/{brand.bob}/depart", {"inherit_to": str(brand.alice)}, follow_redirects=False)
    assert res.status_code == 303
    assert _followed(db_engine, brand.alice, brand.bob) == [3, 0]
    with unit_of_work(db_engine, write=False) as s:
        assert staff.get_staff(s, brand.bob).status == "departed"
        assert s.scalars(select(StaffTransfer.reason)).all() == ["departure"]
    assert "离职继承" in client.get(f"/staff/{brand.bob}").text
    assert f'data-staff-id="{brand.bob}"' not in client.get("/staff").text  # the list shows active staff


def test_hand_one_customer_to_another_staff_member(console, brand, db_engine: Engine) -> None:
    client = console("ops")
    page = client.page(f"/customers/{brand.zhang}").text
    assert 'data-testid="transfer-owner"' in page
    res = client.submit(f"/customers/{brand.zhang}/transfer", {"from_staff": "alice", "to_staff": "bob"},
                        follow_redirects=False)
    assert res.status_code == 303
    assert _followed(db_engine, brand.alice, brand.bob) == [1, 2]
    wrong = client.submit(f"/customers/{brand.zhang}/transfer", {"from_staff": "alice", "to_staff": "bob"})
    assert wrong.status_code == 422 and 'data-field="alice">该员工没有跟进这个客户' in wrong.text


def test_only_managers_transfer(console, brand) -> None:
    ana = console("ana")
    ana.page(f"/staff/{brand.alice}")
    assert ana.submit(f"/staff/{brand.alice}/transfer", {"to_staff": str(brand.bob)}).status_code == 403
    assert 'data-testid="transfer-owner"' not in ana.get(f"/customers/{brand.zhang}").text
    assert console("alice_u").get("/staff").status_code == 403


def _behavior(db_engine: Engine, settings, days_ago: int, chats: int, pct: str | None, minutes: int | None) -> None:
    day = local_day(utcnow(), settings.tz) - timedelta(days=days_ago)
    stat = behavior.BehaviorDay(stat_time=behavior.stat_time(day, settings.tz), chat_cnt=chats, message_cnt=chats,
                                reply_percentage=None if pct is None else Decimal(pct), avg_reply_time=minutes,
                                negative_feedback_cnt=0, new_apply_cnt=0, new_contact_cnt=0)
    with unit_of_work(db_engine) as s:
        behavior.record_behavior(s, "alice", [stat], settings.tz)


def test_the_page_shows_response_over_30_days_against_the_30_before(console, brand, db_engine: Engine, settings) -> None:
    assert 'data-testid="staff-response-none"' in console("ana").get(f"/staff/{brand.alice}").text
    _behavior(db_engine, settings, 0, 10, "100", 2)  # today
    _behavior(db_engine, settings, 29, 30, "50", 6)  # the first day of the 30
    _behavior(db_engine, settings, 30, 8, "25", None)  # the last day of the 30 before
    _behavior(db_engine, settings, 60, 99, "0", None)  # older than both periods
    page = console("ana").get(f"/staff/{brand.alice}").text
    cards = {n: re.sub(r"\s+", " ", re.search(rf'data-testid="staff-response-{n}">(.*?)</div>', page, re.DOTALL).group(1))
             for n in (1, 2, 3)}
    # now: 40 chats, (100×10 + 50×30)/40 = 62.5 %, (2×10 + 6×15)/25 = 4.4 min; before: 8 chats, 25 %, no reply time
    assert "<dd>40</dd>" in cards[1] and "8</dd>" in cards[1]
    assert "<dd>62.5%</dd>" in cards[2] and "25.0%</dd>" in cards[2]
    assert "<dd>4.4 min</dd>" in cards[3] and cards[3].endswith("–</dd>")  # no reply time before
