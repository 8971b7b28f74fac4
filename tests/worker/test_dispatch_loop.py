"""The dispatcher's loop as `siyu worker` runs it: a thread that sends what becomes due, and stops."""

from __future__ import annotations

import time

from sqlalchemy import Engine, func, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.outbox import NewMessage, enqueue
from siyu.domains.outbox.models import OutboxMessage, RecordedDelivery
from siyu.worker.dispatch import DispatchLoop


def test_loop_sends_as_messages_arrive_and_stops(db_engine: Engine, settings: Settings) -> None:
    loop = DispatchLoop(db_engine, settings.model_copy(update={"dispatch_idle_seconds": 0.05}))
    loop.start()
    try:
        for i in range(3):
            with unit_of_work(db_engine) as s:
                enqueue(s, [NewMessage(f"loop{i}", "order_paid", "wecom", {"text": "谢谢"}, customer_id=i + 1)])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with unit_of_work(db_engine, write=False) as s:
                if s.scalar(select(func.count()).select_from(RecordedDelivery)) == 3:
                    break
            time.sleep(0.05)
    finally:
        loop.stop(timeout=10)
    assert loop._thread is not None and not loop._thread.is_alive()
    with unit_of_work(db_engine, write=False) as s:
        assert sorted(s.scalars(select(OutboxMessage.status))) == ["sent", "sent", "sent"]
