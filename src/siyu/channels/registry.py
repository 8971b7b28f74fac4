"""Wire the channel adapters from the settings (the app and ``siyu worker`` call this at start-up).

``wecom``, ``wecom_mass`` and ``wecom_group`` go to :class:`RecordOnlyWeComAdapter` until the WeCom
capability supplies a real client; ``sms`` to the logging provider; ``webhook`` always; ``email`` only
when ``SIYU_SMTP_HOST`` is set (otherwise email messages are deferred with reason ``no_adapter``).
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import Engine

from siyu.channels.email.adapter import SmtpEmailAdapter
from siyu.channels.sms.adapter import LoggingSmsProvider, SmsAdapter
from siyu.channels.webhook.adapter import WebhookAdapter
from siyu.channels.wecom.adapter import RecordOnlyWeComAdapter
from siyu.config import Settings
from siyu.domains.outbox import unsubscribe_token
from siyu.domains.outbox.ports import ChannelAdapter


def webhook_secret(settings: Settings) -> str:
    """Return the webhook signing secret (SIYU_WEBHOOK_SECRET, else one derived from SIYU_SECRET_KEY)."""
    if settings.webhook_secret:
        return settings.webhook_secret
    return hmac.new(settings.effective_secret_key.encode(), b"siyu-webhooks", hashlib.sha256).hexdigest()


def build_adapters(engine: Engine, settings: Settings) -> dict[str, ChannelAdapter]:
    """Return the adapter of each channel the install can send on."""
    adapters: dict[str, ChannelAdapter] = {ch: RecordOnlyWeComAdapter(engine, ch)
                                           for ch in ("wecom", "wecom_mass", "wecom_group")}
    adapters["sms"] = SmsAdapter(LoggingSmsProvider(engine))
    adapters["webhook"] = WebhookAdapter(webhook_secret(settings))
    if settings.smtp_host:
        key = settings.effective_secret_key
        adapters["email"] = SmtpEmailAdapter(
            settings.smtp_host, settings.smtp_port, settings.email_from, username=settings.smtp_username or None,
            password=settings.smtp_password or None, starttls=settings.smtp_starttls,
            unsubscribe_url=lambda c: f"{settings.public_url}/unsubscribe/{unsubscribe_token(key, c)}")
    return adapters
