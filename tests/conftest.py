"""Test fixtures: a real SQLite file and a real PostgreSQL database for every backend test.

``db_engine`` is parametrised over both backends. SQLite tests get a copy of a migrated template
file; PostgreSQL tests share one migrated database per xdist worker and start from truncated
tables. Run ``make test`` (it starts PostgreSQL and sets SIYU_TEST_POSTGRES_URL); for a quick
SQLite-only run use ``pytest -m "not postgres"``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from siyu.config import Settings
from siyu.db.engine import make_engine
from siyu.db.migrate import upgrade
from siyu.db.models import metadata

os.environ.setdefault("SIYU_ENV", "test")
TEST_SECRET = "test-secret-key-0123456789abcdef0123456789"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per session; tests copy it."""
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """Return the URL of a migrated PostgreSQL database owned by this xdist worker."""
    base = os.environ.get("SIYU_TEST_POSTGRES_URL")
    if not base:
        pytest.fail("SIYU_TEST_POSTGRES_URL is not set: run `make test`, or deselect with -m 'not postgres'")
    url = make_url(base)
    dbname = f"siyu_test_{_worker()}_{os.getpid()}"  # concurrent test runs never share a database
    admin = make_engine(str(url.set(database="postgres")))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    test_url = url.set(database=dbname).render_as_string(hide_password=False)
    engine = make_engine(test_url)
    upgrade(engine)
    engine.dispose()
    yield test_url
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def db_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Yield an engine on a fresh, migrated database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "siyu.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
    else:
        engine = make_engine(request.getfixturevalue("pg_url"))
        _truncate_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """Yield an engine on the fresh PostgreSQL database only (mark the test ``postgres``), for PostgreSQL-only behaviour."""
    engine = make_engine(pg_url)
    _truncate_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Return test settings with a fixed secret key and a temp data dir."""
    return Settings(data_dir=tmp_path, secret_key=TEST_SECRET, env="test")
