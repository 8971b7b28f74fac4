"""``RecordOnlyWeComAdapter``: stores what would be sent to WeCom and never pretends to deliver.

It implements the outbox port for the WeCom channels (``wecom`` 1:1 messages, ``wecom_mass`` mass-message
tasks, ``wecom_group`` group messages) by writing one ``recorded_deliveries`` row per idempotency key
in its own transaction; its ``provider_ref`` says ``recorded-only``. The row is unique on the key, so a
replay after a killed worker records nothing twice: exactly-once. When the WeCom capability supplies
the real ``wechatpy.work`` client, an adapter with the same port replaces this one in
:func:`siyu.channels.registry.build_adapters`.
"""

from __future__ import annotations

from sqlalchemy import Engine

from siyu.db.engine import unit_of_work
from siyu.domains.outbox import record_delivery
from siyu.domains.outbox.ports import Outgoing, PermanentSendError, SendResult

NAME = "wecom_record_only"


class RecordOnlyWeComAdapter:
    """Record WeCom messages (1:1, mass-message tasks, group messages) instead of sending them."""

    idempotent = True

    def __init__(self, engine: Engine, channel: str = "wecom") -> None:
        self.engine, self.channel = engine, channel

    def send(self, message: Outgoing) -> SendResult:
        """Record ``message`` once per idempotency key; raise if it names no recipient."""
        p = message.payload
        recipient = p.get("external_userid") or p.get("chat_id") or p.get("to")
        if recipient is None and message.customer_id is not None:
            recipient = f"customer:{message.customer_id}"
        if recipient is None:
            raise PermanentSendError("a WeCom message needs external_userid, chat_id or a customer", "no_recipient")
        body = {"kind": message.kind, "staff_id": message.staff_id, "payload": p, "source": message.source}
        with unit_of_work(self.engine) as s:
            new = record_delivery(s, idempotency_key=message.idempotency_key, adapter=NAME, channel=self.channel,
                                  recipient=str(recipient)[:200], body=body)
        return SendResult(provider_ref="recorded-only" if new else "recorded-only:replay")
