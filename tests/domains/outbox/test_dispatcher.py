"""The dispatcher's lifecycle: claim, send, mark; lease recovery; backoff to dead letter; two workers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from siyu.channels.wecom.adapter import RecordOnlyWeComAdapter
from siyu.db.engine import unit_of_work
from siyu.domains.outbox import NewMessage, enqueue
from siyu.domains.outbox.models import OutboxMessage, RecordedDelivery
from siyu.domains.outbox.ports import Outgoing, PermanentSendError, SendResult, TransientSendError
from siyu.domains.outbox.service import save_policy

from .conftest import NOON, CountingAdapter, dispatcher


def _enqueue(engine: Engine, n: int, *, channel: str = "wecom", category: str = "transactional",
             source: str | None = None, prefix: str = "m") -> None:
    with unit_of_work(engine) as s:
        enqueue(s, [NewMessage(f"{prefix}{i}", "test", channel, {"text": f"hi {i}"}, customer_id=1000 + i,
                               category=category, source=source, send_after=NOON) for i in range(n)], now=NOON)


def _rows(engine: Engine) -> list[OutboxMessage]:
    with unit_of_work(engine, write=False) as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_sends_due_messages_once_and_records_them(db_engine: Engine) -> None:
    _enqueue(db_engine, 3)
    with unit_of_work(db_engine) as s:
        enqueue(s, [NewMessage("later", "test", "wecom", {}, customer_id=1, send_after=NOON + timedelta(hours=1))])
    stats = dispatcher(db_engine, RecordOnlyWeComAdapter(db_engine)).drain(NOON)
    assert (stats.claimed, stats.sent) == (3, 3)
    rows = _rows(db_engine)
    assert [(r.idempotency_key, r.status, r.attempts, r.provider_ref) for r in rows] == [
        ("m0", "sent", 1, "recorded-only"), ("m1", "sent", 1, "recorded-only"), ("m2", "sent", 1, "recorded-only"),
        ("later", "pending", 0, None)]
    with unit_of_work(db_engine, write=False) as s:
        recorded = list(s.scalars(select(RecordedDelivery.recipient).order_by(RecordedDelivery.id)))
    assert recorded == ["customer:1000", "customer:1001", "customer:1002"]


class Killed(BaseException):
    """Stands for SIGKILL between the send and the mark."""


class DiesAfterSending:
    """Records through the real record-only adapter, then 'dies' after ``n`` sends."""

    channel, idempotent = "wecom", True

    def __init__(self, inner: RecordOnlyWeComAdapter, n: int) -> None:
        self.inner, self.n = inner, n

    def send(self, message: Outgoing) -> SendResult:
        result = self.inner.send(message)
        self.n -= 1
        if self.n == 0:
            raise Killed()
        return result


def test_killed_worker_leases_come_back_and_nothing_is_sent_twice(db_engine: Engine) -> None:
    _enqueue(db_engine, 5)
    inner = RecordOnlyWeComAdapter(db_engine)
    with pytest.raises(Killed):
        dispatcher(db_engine, DiesAfterSending(inner, 3), holder="dead").run_once(NOON)
    assert [r.status for r in _rows(db_engine)] == ["sending"] * 5  # claimed, never marked
    assert dispatcher(db_engine, inner, holder="alive").run_once(NOON + timedelta(minutes=4)).claimed == 0  # leased
    stats = dispatcher(db_engine, inner, holder="alive").drain(NOON + timedelta(minutes=6))
    assert stats.sent == 5
    rows = _rows(db_engine)
    assert {(r.status, r.attempts, r.claimed_by) for r in rows} == {("sent", 2, "alive")}
    with unit_of_work(db_engine, write=False) as s:
        keys = list(s.scalars(select(RecordedDelivery.idempotency_key)))
    assert sorted(keys) == ["m0", "m1", "m2", "m3", "m4"]  # three re-sent with their key, recorded once
    assert sorted((r.idempotency_key, r.provider_ref) for r in rows) == [("m0", "recorded-only:replay"), ("m1", "recorded-only:replay"), ("m2", "recorded-only:replay"), ("m3", "recorded-only"), ("m4", "recorded-only")]


def test_transient_errors_back_off_then_dead_letter(db_engine: Engine) -> None:
    _enqueue(db_engine, 1)
    with unit_of_work(db_engine) as s:
        save_policy(s, {"max_attempts": 3, "backoff_base_seconds": 60, "backoff_max_seconds": 90}, actor="t")
    failing = CountingAdapter(fail=TransientSendError("503 from upstream"))
    now, waits = NOON, []
    for attempt in (1, 2):
        assert dispatcher(db_engine, failing, now=now).run_once(now).failed == 1
        row = _rows(db_engine)[0]
        assert (row.status, row.attempts, row.reason, row.last_error) == ("failed", attempt, "transient_error",
                                                                            "503 from upstream")
        waits.append((row.send_after - now).total_seconds())
        assert dispatcher(db_engine, failing, now=now).run_once(row.send_after - timedelta(seconds=1)).claimed == 0
        now = row.send_after
    assert 30 <= waits[0] <= 60 and 45 <= waits[1] <= 90  # base·2^(n-1), capped at 90, jitter 50-100 %
    assert dispatcher(db_engine, failing, now=now).run_once(now).dead == 1
    row = _rows(db_engine)[0]
    assert (row.status, row.attempts, row.reason) == ("dead", 3, "max_attempts")
    assert dispatcher(db_engine, failing).run_once(now + timedelta(days=1)).claimed == 0


def test_permanent_error_dead_letters_at_once(db_engine: Engine) -> None:
    _enqueue(db_engine, 1)
    bad = CountingAdapter(fail=PermanentSendError("user not found", "unknown_recipient"))
    assert dispatcher(db_engine, bad).run_once(NOON).dead == 1
    row = _rows(db_engine)[0]
    assert (row.status, row.attempts, row.reason, row.last_error) == ("dead", 1, "unknown_recipient", "user not found")


def test_channel_without_adapter_is_deferred_with_reason(db_engine: Engine) -> None:
    _enqueue(db_engine, 1, channel="fax")
    stats = dispatcher(db_engine, CountingAdapter()).run_once(NOON)
    assert dict(stats.held) == {"no_adapter": 1}
    row = _rows(db_engine)[0]
    assert (row.status, row.reason, row.send_after) == ("deferred", "no_adapter", NOON + timedelta(minutes=5))


def test_sources_share_a_batch_round_robin(db_engine: Engine) -> None:
    _enqueue(db_engine, 6, source="mass:1", prefix="mass")
    _enqueue(db_engine, 2, source="journey:4:step:1", prefix="j")
    adapter = CountingAdapter()
    dispatcher(db_engine, adapter, batch=8).run_once(NOON)
    assert [m.idempotency_key for m in adapter.sent] == ["mass0", "j0", "mass1", "j1", "mass2", "mass3", "mass4",
                                                         "mass5"]


def test_two_dispatchers_send_each_message_exactly_once(db_engine: Engine) -> None:
    _enqueue(db_engine, 300)
    adapter = CountingAdapter()
    workers = [dispatcher(db_engine, adapter, holder=f"w{i}", batch=20) for i in range(2)]
    errors: list[BaseException] = []

    def run(d: object) -> None:
        try:
            d.drain(NOON)  # type: ignore[attr-defined]
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    keys = [m.idempotency_key for m in adapter.sent]
    assert len(keys) == 300 and len(set(keys)) == 300
    rows = _rows(db_engine)
    assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}
    if db_engine.dialect.name == "postgresql":
        assert {r.claimed_by for r in rows} == {"w0", "w1"}  # both took a share


def test_a_mass_backlog_does_not_hold_back_other_messages(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        enqueue(s, [NewMessage(f"mass{i}", "mass_message", "wecom", {}, customer_id=5000 + i, source="mass:9",
                               mass_message_id=9, send_after=NOON - timedelta(hours=1)) for i in range(60)], now=NOON)
        enqueue(s, [NewMessage(f"j{i}", "journey_message", "wecom", {}, customer_id=100 + i, source="journey:2:step:1",
                               send_after=NOON) for i in range(3)], now=NOON)
    adapter = CountingAdapter()
    stats = dispatcher(db_engine, adapter, batch=10).run_once(NOON)
    assert stats.sent == 10
    keys = [m.idempotency_key for m in adapter.sent]
    assert sorted(k for k in keys if k.startswith("j")) == ["j0", "j1", "j2"]  # due later, still in the first batch
    assert keys[:6] == ["mass0", "j0", "mass1", "j1", "mass2", "j2"]  # round-robin by source in the batch
    assert dispatcher(db_engine, adapter, batch=10).run_once(NOON).sent == 10  # mass takes the idle lane's half
    assert dispatcher(db_engine, adapter, batch=100).drain(NOON).sent == 43
    assert len({m.idempotency_key for m in adapter.sent}) == 63


def test_two_dispatchers_hold_a_customers_cap_together(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        save_policy(s, {"caps": [{"period": "day", "limit": 3}]}, actor="t")
        enqueue(s, [NewMessage(f"c{i}", "promo", "wecom", {}, customer_id=77, category="marketing", send_after=NOON)
                    for i in range(12)], now=NOON)
    adapter = CountingAdapter()
    workers = [dispatcher(db_engine, adapter, holder=f"w{i}", batch=1) for i in range(2)]
    threads = [threading.Thread(target=w.drain, args=(NOON,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = _rows(db_engine)
    assert len(adapter.sent) == 3
    assert sorted((r.status, r.reason) for r in rows) == [("deferred", "cap_customer_day")] * 9 + [("sent", None)] * 3
