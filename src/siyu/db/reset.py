"""Empty a database for a fresh start (``siyu demo --reset``): delete an SQLite file, drop and recreate others."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from siyu.db.engine import make_engine
from siyu.db.migrate import upgrade
from siyu.db.models import metadata

CONTENT_TABLES = ("customers", "staff", "events", "orders", "channel_codes")


def is_empty(engine: Engine) -> bool:
    """Return whether the (migrated) database holds no customers, staff, events, orders or codes."""
    with engine.connect() as conn:
        return all(conn.execute(text(f"SELECT 1 FROM {t} LIMIT 1")).first() is None for t in CONTENT_TABLES)


def reset_database(url: str) -> Engine:
    """Remove every table and row behind ``url``, migrate it to head, and return an engine on it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        for base in (parsed.database, parsed.database + ".graph"):  # .graph: an interrupted bulk load's scratch
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(base + suffix).unlink(missing_ok=True)
        engine = make_engine(url)
    else:
        engine = make_engine(url)
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)
    return engine
