"""A reader that appends a row (the PII read audit) commits it even when another writer went first."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from siyu.db.engine import unit_of_work
from siyu.domains.access.models import AuditEntry
from siyu.domains.access.service import audit


def _count(engine: Engine) -> int:
    with unit_of_work(engine, write=False) as s:
        return s.scalar(select(func.count()).select_from(AuditEntry))


def test_a_reader_appends_after_another_writer_committed(db_engine: Engine) -> None:
    with unit_of_work(db_engine, write=False) as reader:
        assert reader.scalar(select(func.count()).select_from(AuditEntry)) == 0  # the read snapshot begins
        with unit_of_work(db_engine) as writer:  # meanwhile the worker writes and commits
            audit(writer, "worker", "scores.write", "store")
        audit(reader, "user:admin", "pii.read", "customer", 1)  # SQLite: a stale reader cannot write
    assert _count(db_engine) == 2


def test_a_reader_that_adds_nothing_writes_nothing(db_engine: Engine) -> None:
    with unit_of_work(db_engine, write=False) as reader:
        reader.scalar(select(func.count()).select_from(AuditEntry))
    assert _count(db_engine) == 0
