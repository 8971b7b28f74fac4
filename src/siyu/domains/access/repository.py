"""SQL for users, API keys and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from siyu.domains.access.models import ApiKey, AuditEntry, ConsoleSession, User


def add(session: Session, row: User | ApiKey | AuditEntry | ConsoleSession) -> None:
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


def audit_entries(session: Session, *, limit: int = 100, action: str | None = None, actor: str | None = None,
                  target_type: str | None = None, target_id: str | None = None,
                  before_id: int | None = None) -> list[AuditEntry]:
    """Return the newest audit entries matching every given filter, older than ``before_id``."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if target_type:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id:
        query = query.where(AuditEntry.target_id == target_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query))


def user(session: Session, user_id: int) -> User | None:
    """Return one user by id."""
    return session.get(User, user_id)


def live_session_user(session: Session, token_hash: str, now: datetime) -> User | None:
    """Return the active user of an unrevoked, unexpired console session."""
    query = (select(User).join(ConsoleSession, ConsoleSession.user_id == User.id)
             .where(ConsoleSession.token_hash == token_hash, ConsoleSession.revoked_at.is_(None),
                    ConsoleSession.expires_at > now, User.active.is_(True)))
    return session.scalar(query)


def revoke_session(session: Session, token_hash: str, now: datetime) -> int:
    """Revoke one console session; return how many rows were live."""
    result = session.execute(update(ConsoleSession)
                             .where(ConsoleSession.token_hash == token_hash, ConsoleSession.revoked_at.is_(None))
                             .values(revoked_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def revoke_sessions_of(session: Session, user_id: int, now: datetime, *, except_hash: str | None) -> int:
    """Revoke every live console session of a user but ``except_hash``; return how many."""
    query = update(ConsoleSession).where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
    if except_hash is not None:
        query = query.where(ConsoleSession.token_hash != except_hash)
    return int(session.execute(query.values(revoked_at=now)).rowcount or 0)  # type: ignore[attr-defined]


def purge_sessions(session: Session, user_id: int, now: datetime) -> None:
    """Delete a user's expired and revoked console sessions (logins and logouts stay in the audit log)."""
    session.execute(delete(ConsoleSession).where(
        ConsoleSession.user_id == user_id,
        or_(ConsoleSession.expires_at <= now, ConsoleSession.revoked_at.is_not(None))))
