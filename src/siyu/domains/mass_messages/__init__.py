"""Mass messages (群发): audiences, content, schedule, preview and an idempotent send through the outbox."""

from siyu.domains.mass_messages.sending import due_ids, preview, send, send_due
from siyu.domains.mass_messages.service import cancel, create, get, list_messages, schedule

__all__ = ["cancel", "create", "due_ids", "get", "list_messages", "preview", "schedule", "send", "send_due"]
