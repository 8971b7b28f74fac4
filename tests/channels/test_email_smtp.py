"""The email adapter against a real SMTP server (aiosmtpd on a local port)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes as _parse
from email import policy as email_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from siyu.channels.email.adapter import SmtpEmailAdapter
from siyu.domains.outbox.ports import Outgoing, PermanentSendError, TransientSendError


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.endswith("@refused.example"):
            return "550 no such user"
        if address.endswith("@busy.example"):
            return "451 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def _msg(to: str, category: str = "marketing") -> Outgoing:
    return Outgoing(id=1, idempotency_key="journey:1:step:2:c7", kind="promo", channel="email", category=category,
                    customer_id=7, staff_id=None, payload={"to": to, "text": "春季上新，欢迎选购", "html": "<p>上新</p>"},
                    subject="春季上新")


def test_sends_a_real_smtp_exchange_with_unsubscribe_headers(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    adapter = SmtpEmailAdapter("127.0.0.1", port, "brand@example.com", sender_name="品牌",
                               unsubscribe_url=lambda c: f"https://scrm.example.com/unsubscribe/tok{c}")
    result = adapter.send(_msg("li@example.com"))
    assert len(inbox.envelopes) == 1
    env = inbox.envelopes[0]
    assert env.rcpt_tos == ["li@example.com"] and env.mail_from == "brand@example.com"
    mail = _parse_email(env.content)
    assert mail["List-Unsubscribe"] == "<https://scrm.example.com/unsubscribe/tok7>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["X-Siyu-Idempotency-Key"] == "journey:1:step:2:c7"
    assert result.provider_ref == mail["Message-ID"]
    assert "春季上新" in mail.get_body(preferencelist=("plain",)).get_content()
    adapter.send(_msg("li@example.com", category="transactional"))
    assert "List-Unsubscribe" not in _parse_email(inbox.envelopes[1].content)


def test_smtp_errors_are_classified(smtp: tuple[Inbox, int]) -> None:
    _, port = smtp
    adapter = SmtpEmailAdapter("127.0.0.1", port, "brand@example.com")
    with pytest.raises(PermanentSendError):
        adapter.send(_msg("x@refused.example"))
    with pytest.raises(TransientSendError):
        adapter.send(_msg("x@busy.example"))
    with pytest.raises(PermanentSendError) as info:
        adapter.send(_msg("not-an-address"))
    assert info.value.reason == "no_recipient"
    with pytest.raises(TransientSendError):
        SmtpEmailAdapter("127.0.0.1", _free_port(), "brand@example.com", timeout=2).send(_msg("li@example.com"))


def _parse_email(raw: bytes) -> Any:
    return _parse(raw, policy=email_policy.default)
