"""Email and SMS to a customer: the dispatcher finds the address at send time and never stores it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from factories import make_customer
from sqlalchemy import Engine, select

from siyu.channels.email.adapter import SmtpEmailAdapter
from siyu.db.engine import unit_of_work
from siyu.domains.identity import service as identity
from siyu.domains.outbox import NewMessage, enqueue
from siyu.domains.outbox.addresses import ContactAddresses
from siyu.domains.outbox.models import OutboxMessage
from siyu.kit.crypto import PiiVault

from .conftest import NOON, CountingAdapter, dispatcher


class Inbox:
    def __init__(self) -> None:
        self.rcpt: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.rcpt.extend(envelope.rcpt_tos)
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_email_and_sms_go_to_the_customers_newest_address(db_engine: Engine, settings, smtp) -> None:
    inbox, port = smtp
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        li = make_customer(s, vault, name="李四", identities={"email": "old@example.com", "phone": "13912345678"}).id
        wang = make_customer(s, vault, name="王五", identities={"phone": "13712345678"}).id
        make_customer(s, vault, identities={"email": "new@example.com"})  # someone else's address
        enqueue(s, [NewMessage("e-li", "journey_message", "email", {"text": "上新了"}, customer_id=li, send_after=NOON),
                    NewMessage("e-wang", "journey_message", "email", {"text": "上新了"}, customer_id=wang, send_after=NOON),
                    NewMessage("e-given", "journey_message", "email", {"text": "hi", "to": "given@example.com"},
                               customer_id=li, send_after=NOON),
                    NewMessage("s-li", "journey_message", "sms", {"text": "券已到账"}, customer_id=li, send_after=NOON),
                    NewMessage("s-wang", "journey_message", "sms", {"text": "券已到账"}, customer_id=wang,
                               send_after=NOON)], now=NOON)
    sms = CountingAdapter("sms")
    email = SmtpEmailAdapter("127.0.0.1", port, "brand@example.com")
    stats = dispatcher(db_engine, email, sms, addresses=ContactAddresses(vault)).drain(NOON)
    assert (stats.sent, stats.dead) == (4, 1)
    assert sorted(inbox.rcpt) == ["given@example.com", "old@example.com"]  # a given address wins
    assert sorted((m.customer_id, m.payload["to"]) for m in sms.sent) == [(li, "13912345678"), (wang, "13712345678")]
    with unit_of_work(db_engine, write=False) as s:
        rows = {r.idempotency_key: r for r in s.scalars(select(OutboxMessage))}
    assert (rows["e-wang"].status, rows["e-wang"].reason) == ("dead", "no_recipient")  # wang has no email identity
    assert "to" not in rows["e-li"].payload and "to" not in rows["s-li"].payload  # the address is never stored


def test_without_the_address_book_nothing_is_looked_up(db_engine: Engine, settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        li = make_customer(s, vault, identities={"phone": "13912345678"}).id
        enqueue(s, [NewMessage("s-li", "journey_message", "sms", {"text": "券"}, customer_id=li, send_after=NOON)],
                now=NOON)
    sms = CountingAdapter("sms")
    dispatcher(db_engine, sms).drain(NOON)
    assert [m.payload.get("to") for m in sms.sent] == [None]


def test_a_customer_merged_away_after_queueing_gets_the_survivors_address(db_engine: Engine, settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    ctx = identity.IdentityContext.from_settings(settings)
    with unit_of_work(db_engine) as s:
        survivor = make_customer(s, vault, identities={"phone": "13912345678"}).id
        gone = make_customer(s, vault, identities={"openid:wx1": "o-gone"}).id
        enqueue(s, [NewMessage("s-gone", "journey_message", "sms", {"text": "券"}, customer_id=gone, send_after=NOON)],
                now=NOON)
    with unit_of_work(db_engine) as s:
        identity.merge_customers(s, ctx, survivor, gone, actor="user:op", reason="same person")
    sms = CountingAdapter("sms")
    dispatcher(db_engine, sms, addresses=ContactAddresses(vault)).drain(NOON)
    assert [(m.customer_id, m.payload.get("to")) for m in sms.sent] == [(gone, "13912345678")]
