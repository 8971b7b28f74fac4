"""SQL for users, API keys and the audit log."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.domains.access.models import ApiKey, AuditEntry, User


def add(session: Session, row: User | ApiKey | AuditEntry) -> None:
    """Stage a new row and flush it so it has an id."""
    session.add(row)
    session.flush()


def user_by_name(session: Session, username: str) -> User | None:
    """Return the user called ``username``."""
    return session.scalar(select(User).where(User.username == username))


def api_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    """Return the API key whose SHA-256 is ``key_hash``."""
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


def api_key(session: Session, key_id: int) -> ApiKey | None:
    """Return one API key by id."""
    return session.get(ApiKey, key_id)


def list_users(session: Session) -> list[User]:
    """Return every user by name."""
    return list(session.scalars(select(User).order_by(User.username)))


def list_api_keys(session: Session) -> list[ApiKey]:
    """Return every API key, newest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))


def audit_entries(session: Session, *, limit: int = 100, action: str | None = None) -> list[AuditEntry]:
    """Return the newest audit entries, optionally of one action."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))
