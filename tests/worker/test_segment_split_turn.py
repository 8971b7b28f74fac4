"""The scheduled refresher's split turn: read in readers, write in slices, same answer as one transaction.

A turn over a big store reads for minutes; it must not hold the write lock meanwhile (a login or an
ingestion batch would wait SQLite's busy timeout and fail), must store exactly what a refresh in one
unit of work stores, and must not overwrite a rule saved while it ran.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from domains.segments.brand import NOW, build
from domains.segments.test_refresh import _assert_current, _define, _new_facts
from sqlalchemy import Engine, select

from siyu.analytics import interest
from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.events.models import Event
from siyu.domains.identity.models import Identity
from siyu.domains.orders.models import Order, OrderFact
from siyu.domains.segments.models import SegmentMembership
from siyu.domains.segments import refresh, service
from siyu.domains.tags.models import CustomerTag, Tag
from siyu.kit.crypto import PiiVault
from siyu.worker import segments as worker
from siyu.worker.segments import SegmentRefresher


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The refresher's clock, settable by the test; slices of three customers and no pause between them."""
    now = [NOW]
    monkeypatch.setattr(worker, "utcnow", lambda: now[0])
    monkeypatch.setattr(worker, "WRITE_SLICE", 3)
    monkeypatch.setattr(worker, "pause_for_writers", lambda _engine: None)
    yield now


def _brand(engine: Engine, settings: Settings) -> dict[str, int]:
    with unit_of_work(engine) as s:
        build(s, PiiVault(settings.effective_secret_key), people=40)
        return _define(s)


def _members(s: Any, segment_id: int) -> list[int]:
    return list(s.scalars(select(SegmentMembership.customer_id).where(SegmentMembership.segment_id == segment_id,
                                                                      SegmentMembership.exited_at.is_(None))))


def _assert_interests(engine: Engine, settings: Settings, refresher: SegmentRefresher, at: Any) -> None:
    """Open interest tags equal a fresh computation of everyone's interests."""
    with unit_of_work(engine, write=False) as s:
        want = interest.compute(s, settings.tz, refresher.interests, now=at).desired
        held: dict[int, list[str]] = {}
        for cid, name in s.execute(select(CustomerTag.customer_id, Tag.name).join(Tag, Tag.id == CustomerTag.tag_id)
                                   .where(CustomerTag.source == "interest", CustomerTag.removed_at.is_(None))):
            held.setdefault(cid, []).append(name)
    assert {c: sorted(t) for c, t in held.items()} == {c: sorted(t) for c, t in want.items()}
    assert want  # the brand's content views give some customers interests


def test_split_turns_store_what_one_transaction_would(db_engine: Engine, settings: Settings, clock: list[Any]) -> None:
    _brand(db_engine, settings)
    refresher = SegmentRefresher(db_engine, settings, interval=1)
    outcome = refresher.run_once()
    assert outcome is not None and outcome.full
    with unit_of_work(db_engine, write=False) as s:
        _assert_current(s, NOW)
    _assert_interests(db_engine, settings, refresher, NOW)
    assert refresher.run_once() is None  # its own rule and interest holds are not news
    rng = random.Random(7)
    for step in range(1, 6):
        clock[0] = NOW + timedelta(minutes=step)
        with unit_of_work(db_engine) as s:
            _new_facts(s, rng, 100 + step, clock[0])
        outcome = refresher.run_once()
        assert outcome is None or not outcome.full
        with unit_of_work(db_engine, write=False) as s:
            _assert_current(s, clock[0])


def test_a_writer_gets_in_while_the_turn_reads(db_engine: Engine, settings: Settings, clock: list[Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _brand(db_engine, settings)
    with unit_of_work(db_engine, write=False) as s:
        ident = s.scalars(select(Identity).order_by(Identity.id)).first()
        assert ident is not None
        identity_id, customer_id = ident.id, ident.customer_id
    written: list[bool] = []
    diff = refresh.diff

    def write_meanwhile(*args: Any, **kwargs: Any) -> Any:
        """An ingestion batch arrives while the turn reads: it must commit without waiting for the turn."""
        if not written:
            def ingest() -> None:
                with unit_of_work(db_engine) as w:
                    w.add(Event(event_id="meanwhile", type="content_viewed", occurred_at=NOW, received_at=NOW,
                                identity_id=identity_id, properties={"topic": "门店"}))
                written.append(True)
            writer = threading.Thread(target=ingest)
            writer.start()
            writer.join(10)  # a turn holding the write lock would keep it waiting for SQLite's 30 s busy timeout
            assert written, "a writer waited on the refresher's read"
        return diff(*args, **kwargs)

    monkeypatch.setattr(refresh, "diff", write_meanwhile)
    refresher = SegmentRefresher(db_engine, settings, interval=1)
    assert refresher.run_once() is not None and written
    clock[0] = NOW + timedelta(minutes=1)
    outcome = refresher.run_once()  # the fact that arrived during the turn is the next turn's news
    assert outcome is not None and not outcome.full and customer_id in outcome.changed


def test_a_rule_saved_during_the_turn_is_not_overwritten(db_engine: Engine, settings: Settings, clock: list[Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _brand(db_engine, settings)
    target_key = refresh.segment_key(ids["buyers"])
    diff = refresh.diff
    stale: list[tuple[set[int], set[int]]] = []

    def save_rule_meanwhile(session: Any, target: refresh.Target, *args: Any, **kwargs: Any) -> Any:
        """Someone narrows the rule after the turn read it, before it writes it."""
        answer = diff(session, target, *args, **kwargs)
        if target.key == target_key and not stale:  # once: the saver's own evaluation passes here too
            stale.append(answer)
            def save() -> None:
                with unit_of_work(db_engine) as w:
                    service.update_segment(w, ids["buyers"], actor="ops", tz=settings.tz,
                                           rule={"order": "total", "op": "gte", "value": "100000"})
            editor = threading.Thread(target=save)
            editor.start()
            editor.join(30)
        return answer

    monkeypatch.setattr(refresh, "diff", save_rule_meanwhile)
    with unit_of_work(db_engine) as s:  # a new big order: the old rule's answer now differs from the stored one
        buyers = s.scalars(select(Identity).where(Identity.customer_id.not_in(_members(s, ids["buyers"]))))
        ident = buyers.first()
        assert ident is not None
        order = Order(order_id="big", identity_id=ident.id, amount_fen=50_000, refunded_fen=0, status="paid",
                      placed_at=NOW, paid_at=NOW, updated_at=NOW)
        s.add(order)
        s.flush()
        s.add(OrderFact(order_pk=order.id, status="paid", amount_fen=50_000, occurred_at=NOW, received_at=NOW))
    outcome = SegmentRefresher(db_engine, settings, interval=1).run_once(force_full=True)
    assert stale and stale[0][0]  # the turn read customers entering under the old rule...
    assert outcome is not None and target_key not in outcome.entered  # ...and wrote none of it
    with unit_of_work(db_engine, write=False) as s:
        _assert_current(s, NOW)  # the stored members are the new rule's


def test_a_turn_stopped_half_way_releases_the_lease_and_is_done_again(
        db_engine: Engine, settings: Settings, clock: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _brand(db_engine, settings)
    refresher = SegmentRefresher(db_engine, settings, interval=1)
    diff = refresh.diff

    def stop_meanwhile(*args: Any, **kwargs: Any) -> Any:
        refresher.stop(timeout=0)  # the server shuts down while the turn reads
        return diff(*args, **kwargs)

    monkeypatch.setattr(refresh, "diff", stop_meanwhile)
    assert refresher.run_once() is None
    monkeypatch.setattr(refresh, "diff", diff)
    with unit_of_work(db_engine, write=False) as s:
        assert refresh.last_full(s) is None  # no watermarks: the turn did not finish
    outcome = SegmentRefresher(db_engine, settings, interval=1).run_once()  # the lease is free again
    assert outcome is not None and outcome.full
    with unit_of_work(db_engine, write=False) as s:
        _assert_current(s, NOW)
