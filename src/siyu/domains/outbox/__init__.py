"""Outbox: other domains enqueue what a customer will receive through ``enqueue``."""

from siyu.domains.outbox.service import NewMessage, enqueue, list_messages

__all__ = ["NewMessage", "enqueue", "list_messages"]
