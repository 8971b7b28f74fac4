"""Portable bulk statements: INSERT … ON CONFLICT for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

CHUNK = 2000  # keeps IN lists and multi-row VALUES well under every backend's parameter limit


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Yield slices of ``items`` of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def dialect_insert(session: Session, table: Table) -> Any:
    """Return the dialect's INSERT (which has ``on_conflict_do_nothing``/``do_update``)."""
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


def insert_ignore(session: Session, table: Table, rows: list[dict[str, Any]], conflict: list[str]) -> None:
    """Insert ``rows``, silently skipping those that collide on the ``conflict`` columns."""
    if not rows:
        return
    stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=conflict)
    for part in chunks(rows):
        session.execute(stmt, list(part))


def is_postgres(session: Session) -> bool:
    """Return whether the session talks to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def select_in(session: Session, sql: str, values: Sequence[Any], size: int = CHUNK) -> list[tuple[Any, ...]]:
    """Run ``sql`` (ending in ``IN ({marks})``) over ``values`` in chunks at driver level.

    For hot look-ups by a list of keys: skips SQLAlchemy's per-call rendering of expanding IN
    parameters, which costs more than the query itself on batches of a few hundred keys.
    """
    mark = "?" if session.get_bind().dialect.name == "sqlite" else "%s"
    out: list[tuple[Any, ...]] = []
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        for part in chunks(values, size):
            cursor.execute(sql.format(marks=", ".join([mark] * len(part))), tuple(part))
            out.extend(cursor.fetchall())
    finally:
        cursor.close()
    return out
