"""Alembic environment: one linear history for SQLite and PostgreSQL.

The connection comes from ``config.attributes["connection"]`` when Siyu runs migrations
in-process (``siyu db upgrade``, tests), else from the configured ``SIYU_DATABASE_URL``.
"""

from alembic import context

from siyu.db.engine import make_engine
from siyu.config import get_settings
from siyu.db.models import metadata

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(get_settings().effective_database_url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
