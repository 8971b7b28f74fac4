"""SQL for the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.domains.outbox.models import OutboxMessage


def insert_new(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert messages, skipping those whose idempotency key exists.

    One executemany on the Core table. No RETURNING: on PostgreSQL it makes SQLAlchemy build
    1,000-row statements that cost 3-4x more than the pipelined executemany.
    """
    if rows:
        dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        stmt = dialect_insert(OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["idempotency_key"])
        session.execute(stmt, list(rows))


def messages(session: Session, *, kind: str | None, customer_id: int | None, status: str | None,
             limit: int) -> list[OutboxMessage]:
    """Return the newest messages matching the filters."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    if customer_id is not None:
        query = query.where(OutboxMessage.customer_id == customer_id)
    if status:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query))
