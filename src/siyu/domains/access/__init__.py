"""Access: users, roles, API keys, audit. Other domains use Principal, audit() and the audit table."""

from siyu.domains.access.models import AuditEntry
from siyu.domains.access.principal import CLI, SYSTEM, Principal
from siyu.domains.access.service import audit

__all__ = ["AuditEntry", "CLI", "Principal", "SYSTEM", "audit"]
