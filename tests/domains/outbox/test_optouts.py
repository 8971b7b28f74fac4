"""Consent facts, opt-outs, unsubscribe keywords and signed links, through the dispatcher on both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import make_customer
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.customers import Consent
from siyu.domains.identity import Identity
from siyu.domains.outbox import NewMessage, enqueue, handle_inbound_text
from siyu.domains.outbox import service
from siyu.domains.outbox.models import OutboxMessage
from siyu.errors import SiyuError
from siyu.kit.crypto import PiiVault

from .conftest import NOON, CountingAdapter, dispatcher

SECRET = "s" * 40


@pytest.fixture
def people(db_engine: Engine, settings: Settings) -> list[int]:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        return [make_customer(s, vault, identities={"unionid": f"u{i}"}).id for i in range(5)]


def _consent(engine: Engine, customer_id: int, channel: str, granted: bool, minutes: int) -> None:
    with unit_of_work(engine) as s:
        identity = s.scalars(select(Identity).where(Identity.customer_id == customer_id)).first()
        s.add(Consent(identity_id=identity.id, channel=channel, purpose="marketing", granted=granted, source="test",
                      evidence={}, recorded_at=NOON - timedelta(minutes=minutes)))


def test_outcomes_with_reasons(db_engine: Engine, people: list[int]) -> None:
    a, b, c, d, e = people
    _consent(db_engine, a, "wecom", False, 60)  # withdrawn…
    _consent(db_engine, a, "wecom", True, 30)   # …then granted again: may receive
    _consent(db_engine, b, "wecom", True, 60)
    _consent(db_engine, b, "wecom", False, 30)  # withdrawn last: suppressed
    with unit_of_work(db_engine) as s:
        assert handle_inbound_text(s, c, "wecom", "  退订！ ") is True
        assert handle_inbound_text(s, d, "wecom", "我不想退订") is False  # only a whole-reply keyword counts
        service.add_opt_out(s, customer_id=e, source="operator:admin")
        enqueue(s, [NewMessage(f"mk{p}", "promo", "wecom", {}, customer_id=p, category="marketing", send_after=NOON)
                    for p in people] +
                [NewMessage(f"tx{p}", "order", "wecom", {}, customer_id=p, send_after=NOON) for p in people], now=NOON)
    adapter = CountingAdapter()
    dispatcher(db_engine, adapter).drain(NOON)
    with unit_of_work(db_engine, write=False) as s:
        got = {m.idempotency_key: (m.status, m.reason) for m in s.scalars(select(OutboxMessage))}
    assert got == {f"mk{a}": ("sent", None), f"mk{b}": ("suppressed", "consent_withdrawn"),
                   f"mk{c}": ("suppressed", "unsubscribed"), f"mk{d}": ("sent", None),
                   f"mk{e}": ("suppressed", "do_not_contact"),
                   f"tx{a}": ("sent", None), f"tx{b}": ("sent", None), f"tx{c}": ("sent", None),
                   f"tx{d}": ("sent", None), f"tx{e}": ("suppressed", "do_not_contact")}
    assert len(adapter.sent) == 6


def test_deferred_for_a_cap_is_sent_the_next_day(db_engine: Engine, people: list[int]) -> None:
    with unit_of_work(db_engine) as s:
        service.save_policy(s, {"caps": [{"period": "day", "limit": 1}]}, actor="t")
        enqueue(s, [NewMessage(f"k{i}", "promo", "wecom", {}, customer_id=people[0], category="marketing",
                               send_after=NOON) for i in range(2)], now=NOON)
    adapter = CountingAdapter()
    assert dispatcher(db_engine, adapter).drain(NOON).sent == 1
    with unit_of_work(db_engine, write=False) as s:
        held = s.scalars(select(OutboxMessage).where(OutboxMessage.status == "deferred")).one()
    assert (held.reason, held.send_after) == ("cap_customer_day", NOON + timedelta(hours=12))  # Shanghai midnight
    tomorrow = NOON + timedelta(hours=12)
    assert dispatcher(db_engine, adapter, now=tomorrow).drain(tomorrow - timedelta(seconds=1)).claimed == 0
    assert dispatcher(db_engine, adapter, now=tomorrow).drain(tomorrow).claimed == 1
    # 00:00 is quiet: held again until 08:00, then sent
    with unit_of_work(db_engine, write=False) as s:
        held = s.get(OutboxMessage, held.id)
    assert (held.status, held.reason, held.send_after) == ("deferred", "quiet_hours", tomorrow + timedelta(hours=8))
    assert dispatcher(db_engine, adapter).drain(tomorrow + timedelta(hours=8)).sent == 1
    assert len(adapter.sent) == 2


def test_signed_unsubscribe_link(db_engine: Engine, people: list[int]) -> None:
    token = service.unsubscribe_token(SECRET, people[0])
    assert service.verify_unsubscribe_token(SECRET, token) == (people[0], "email")
    for bad in (service.unsubscribe_token("x" * 40, people[0]), token[:-2] + "AA", "garbage", token + "x"):
        with pytest.raises(SiyuError) as info:
            service.verify_unsubscribe_token(SECRET, bad)
        assert info.value.code == "outbox_bad_unsubscribe_token"
    with unit_of_work(db_engine) as s:
        assert service.unsubscribe_with_token(s, SECRET, token) == people[0]
        service.unsubscribe_with_token(s, SECRET, token)  # a second click changes nothing
        entries = service.list_opt_outs(s, customer_id=people[0])
    assert [(x.channel, x.scope, x.source) for x in entries] == [("email", "marketing", "email_link")]


def test_opt_out_crud_errors(db_engine: Engine, people: list[int]) -> None:
    with unit_of_work(db_engine) as s:
        with pytest.raises(SiyuError) as info:
            service.add_opt_out(s, customer_id=people[0], scope="some", source="t")
        assert info.value.code == "outbox_bad_scope"
        assert service.add_opt_out(s, customer_id=people[0], source="t") is True
        assert service.add_opt_out(s, customer_id=people[0], source="t") is False
        entry = service.list_opt_outs(s, scope="all")[0]
        service.remove_opt_out(s, entry.id)
        with pytest.raises(SiyuError) as info:
            service.remove_opt_out(s, entry.id)
        assert info.value.code == "outbox_opt_out_not_found"
