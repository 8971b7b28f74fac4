"""SMS through a provider port; ``LoggingSmsProvider`` for development.

:class:`SmsAdapter` implements the outbox port on top of an :class:`SmsProvider` (a template id and
parameters to a phone number, as Chinese SMS gateways take them). A provider raises the outbox's
``TransientSendError`` or ``PermanentSendError``. The logging provider writes a log line and a
``recorded_deliveries`` row per idempotency key (exactly-once) and sends nothing: it is for
development and tests and says so in its ``provider_ref``.
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from sqlalchemy import Engine

from siyu.db.engine import unit_of_work
from siyu.domains.outbox import record_delivery
from siyu.domains.outbox.ports import Outgoing, PermanentSendError, SendResult

log = structlog.get_logger("siyu.sms")


class SmsProvider(Protocol):
    """An SMS gateway."""

    def send_sms(self, phone: str, template: str, params: dict[str, Any], idempotency_key: str) -> str:
        """Send one templated SMS; return the provider's message id."""
        ...


class LoggingSmsProvider:
    """Log and record SMS instead of sending them (development)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def send_sms(self, phone: str, template: str, params: dict[str, Any], idempotency_key: str) -> str:
        """Record the SMS once per idempotency key and log it."""
        with unit_of_work(self.engine) as s:
            new = record_delivery(s, idempotency_key=idempotency_key, adapter="sms_logging", channel="sms",
                                  recipient=phone, body={"template": template, "params": params})
        log.info("sms_logged", phone=phone[-4:], template=template, replay=not new)
        return "logged-only"


class SmsAdapter:
    """The outbox port for SMS: payload ``{"to": phone, "template": id, "params": {…}}``."""

    channel = "sms"

    def __init__(self, provider: SmsProvider, *, idempotent: bool = True) -> None:
        self.provider, self.idempotent = provider, idempotent

    def send(self, message: Outgoing) -> SendResult:
        """Hand the message to the provider."""
        p = message.payload
        phone, template = p.get("to"), p.get("template")
        if not phone or not template:
            raise PermanentSendError("an SMS needs payload.to and payload.template", "no_recipient")
        ref = self.provider.send_sms(str(phone), str(template), dict(p.get("params") or {}), message.idempotency_key)
        return SendResult(provider_ref=ref)
