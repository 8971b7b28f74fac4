"""Outbox and messaging: other domains enqueue what a customer will receive through ``enqueue``.

The dispatcher (``siyu.domains.outbox.dispatcher``) applies the policy (caps, quiet hours, consent,
opt-outs) and sends through channel adapters implementing ``ports.ChannelAdapter``;
:func:`preview_policy` says beforehand what it would decide for each of many customers (the same
rules). The service helper calls :func:`handle_inbound_text` on every inbound reply, so 退订 / TD / unsubscribe opt out.
"""

from siyu.domains.outbox.models import DoNotContact, OutboxMessage
from siyu.domains.outbox.preview import PolicyPreview, preview_policy
from siyu.domains.outbox.service import (
    NewMessage,
    enqueue,
    handle_inbound_text,
    list_messages,
    load_policy,
    record_delivery,
    unsubscribe_token,
)

__all__ = ["DoNotContact", "NewMessage", "OutboxMessage", "PolicyPreview", "enqueue", "handle_inbound_text",
           "list_messages", "load_policy", "preview_policy", "record_delivery", "unsubscribe_token"]
