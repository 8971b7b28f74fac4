"""A lease row per job, so processes that run the same job on a schedule take turns instead of queueing.

``acquire`` makes sure the job's row exists, then takes it with one conditional UPDATE (free, or
expired, or already ours): on SQLite the write lock serialises the two statements' writers, on
PostgreSQL the row lock makes a concurrent UPDATE re-check the condition after the first commits,
so exactly one holder wins. A holder that dies simply lets the lease run out. The caller commits
right after each call, so other processes see the lease at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from siyu.analytics.models import RefreshLease
from siyu.db.bulk import dialect_insert
from siyu.kit.time import UTC

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def acquire(session: Session, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
    """Take the lease ``name`` for ``holder`` until ``now + ttl``; return whether it is held now."""
    session.execute(dialect_insert(session, RefreshLease.__table__)
                    .values(name=name, holder="", expires_at=EPOCH).on_conflict_do_nothing(index_elements=["name"]))
    taken = session.execute(update(RefreshLease)
                            .where(RefreshLease.name == name,
                                   or_(RefreshLease.expires_at <= now, RefreshLease.holder == holder))
                            .values(holder=holder, expires_at=now + ttl)
                            .execution_options(synchronize_session=False))
    return bool(taken.rowcount)


def release(session: Session, name: str, holder: str, now: datetime) -> None:
    """Give the lease back (only if ``holder`` still holds it)."""
    session.execute(update(RefreshLease).where(RefreshLease.name == name, RefreshLease.holder == holder)
                    .values(expires_at=now).execution_options(synchronize_session=False))
