"""``ServiceWorker`` (``siyu worker``): a turn handles pending messages in batches and raises due alerts."""

from __future__ import annotations

from datetime import timedelta

from factories import make_customer, make_event, make_staff
from sqlalchemy import Engine, func, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.identity import Identity
from siyu.domains.outbox.models import OutboxMessage
from siyu.domains.service import service as svc
from siyu.domains.service.models import ResponseClock
from siyu.domains.tasks.models import StaffTask
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow
from siyu.worker.service import ServiceWorker


def test_a_turn_answers_in_batches_and_alerts_overdue_clocks(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    long_ago = utcnow() - timedelta(hours=2)
    with unit_of_work(db_engine) as s:
        make_staff(s, "wang")
        svc.create_rule(s, name="价格", match_type="contains", patterns=["多少钱"], reply="请看小程序", actor="t")
        for i in range(5):
            make_customer(s, vault, identities={"external_userid": f"wm{i}"})
            ident = s.scalars(select(Identity).where(Identity.value == f"wm{i}")).one()
            text = "这个多少钱" if i % 2 else "你好，在吗"
            make_event(s, ident, "message_received", occurred_at=long_ago + timedelta(minutes=i),
                       properties={"text": text, "staff_userid": "wang"}, channel="wecom")
    worker = ServiceWorker(db_engine, settings, interval=0)
    turn = worker.run_once(batch=2)
    assert (turn.events, turn.answered, turn.handed_off, turn.alerts) == (5, 2, 3, 3)
    again = worker.run_once(batch=2)
    assert (again.events, again.alerts) == (0, 0)
    with unit_of_work(db_engine, write=False) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 2
        assert s.scalar(select(func.count()).select_from(ResponseClock)) == 3
        assert s.scalar(select(func.count()).select_from(StaffTask).where(StaffTask.source == "service_sla")) == 3
