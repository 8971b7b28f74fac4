"""SQLite query plans of SQLAlchemy statements, on a copy of the migrated test template.

Plan tests pin which index a statement goes through on SQLite (it has no statistics, and a worse plan
was seconds a page on the 1M store); PostgreSQL has no twin of them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

from siyu.db.engine import make_engine


@contextmanager
def sqlite_plans(template: Path, tmp_path: Path) -> Iterator[Callable[[Any], list[str]]]:
    """Yield a function that returns a statement's plan lines (EXPLAIN QUERY PLAN) instead of running it."""
    shutil.copy(template, tmp_path / "plan.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")

    def explain(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> tuple[str, Any]:
        return f"EXPLAIN QUERY PLAN {statement}", params

    event.listen(engine, "before_cursor_execute", explain, retval=True)
    try:
        with engine.connect() as conn:
            yield lambda statement: [row[3] for row in conn.execute(statement).cursor.fetchall()]
    finally:
        event.remove(engine, "before_cursor_execute", explain)
        engine.dispose()
