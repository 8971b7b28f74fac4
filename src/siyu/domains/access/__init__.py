"""Access: users, roles, API keys, audit. Other domains use Principal and audit()."""

from siyu.domains.access.principal import CLI, SYSTEM, Principal
from siyu.domains.access.service import audit

__all__ = ["CLI", "SYSTEM", "Principal", "audit"]
