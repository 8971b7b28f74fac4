"""SQL for staff tasks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from siyu.db.bulk import insert_arrays
from siyu.domains.tasks.models import StaffTask


def insert_new(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert tasks, skipping those whose idempotency key exists (one executemany; PostgreSQL: one
    ``INSERT … SELECT FROM unnest(…)`` of array parameters)."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        insert_arrays(session, StaffTask.__table__, rows, conflict="(idempotency_key)")
        return
    stmt = sqlite.insert(StaffTask.__table__).on_conflict_do_nothing(index_elements=["idempotency_key"])
    session.execute(stmt, list(rows))


def by_keys(session: Session, keys: Sequence[str]) -> list[StaffTask]:
    """Return the tasks with these idempotency keys."""
    if not keys:
        return []
    return list(session.scalars(select(StaffTask).where(StaffTask.idempotency_key.in_(list(keys)))
                                .order_by(StaffTask.id)))


def get(session: Session, task_id: int) -> StaffTask | None:
    """Return one task."""
    return session.get(StaffTask, task_id)


def tasks(session: Session, *, staff_id: int | None, customer_id: int | None, status: str | None,
          source_prefix: str | None, after: int | None, limit: int) -> list[StaffTask]:
    """Return tasks in id order, filtered; ``after`` is an id cursor."""
    query = select(StaffTask).order_by(StaffTask.id).limit(limit)
    if staff_id is not None:
        query = query.where(StaffTask.staff_id == staff_id)
    if customer_id is not None:
        query = query.where(StaffTask.customer_id == customer_id)
    if status:
        query = query.where(StaffTask.status == status)
    if source_prefix:
        query = query.where(StaffTask.source.startswith(source_prefix, autoescape=True))
    if after is not None:
        query = query.where(StaffTask.id > after)
    return list(session.scalars(query))


def close(session: Session, task_id: int, status: str, at: datetime, actor: str) -> bool:
    """Close an open task; return whether it was open."""
    result = session.execute(update(StaffTask).where(StaffTask.id == task_id, StaffTask.status == "open")
                             .values(status=status, closed_at=at, closed_by=actor))
    return bool(result.rowcount)


def counts_by_status(session: Session, *, staff_id: int | None) -> dict[str, int]:
    """Return {status: count}, optionally for one staff member."""
    query = select(StaffTask.status, func.count()).group_by(StaffTask.status)
    if staff_id is not None:
        query = query.where(StaffTask.staff_id == staff_id)
    return {status: n for status, n in session.execute(query)}
