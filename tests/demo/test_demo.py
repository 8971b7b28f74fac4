"""`siyu demo`: deterministic, exercises OneID for real, and the bulk path equals the service path."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from demo.fingerprint import fingerprints
from siyu.analytics.models import SUMMARY_TABLES
from siyu.cli.main import app
from siyu.config import get_settings
from siyu.db.engine import make_engine, unit_of_work
from siyu.db.migrate import upgrade
from siyu.demo import scale
from siyu.demo.people import simulate
from siyu.demo.plan import make_plan
from siyu.demo.runner import DemoOptions, build, window
from siyu.domains.customers import Customer
from siyu.domains.ingest import bulk_repository
from siyu.domains.identity import IdentityIssue
from siyu.domains.staff.models import Staff, StaffTransfer

UNTIL = date(2026, 11, 1)


def _build(engine, settings, mode: str, customers: int = 300, seed: int = 7, parallel: bool | None = False):
    return build(engine, settings, DemoOptions(customers=customers, seed=seed, until=UNTIL, mode=mode, block=120,
                                               batch=1000, parallel=parallel))


def _sqlite(path):
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def _index_definitions(engine):
    """Return every index's name and CREATE statement (partial ones with their WHERE) as SQLite stores them."""
    with engine.connect() as conn:
        return sorted(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index'").all())


def _summaries(engine):
    with engine.connect() as conn:
        return {t: sorted(map(tuple, conn.exec_driver_sql(f"SELECT * FROM {t}"))) for t in SUMMARY_TABLES}


def test_same_seed_same_people():
    start, end = window(UNTIL)
    plan = make_plan(3, start, end)
    a, b = simulate(plan, 41, start, end), simulate(plan, 41, start, end)
    assert (a.name, a.phone, [(f.t, type(f).__name__) for f in a.facts]) == \
        (b.name, b.phone, [(f.t, type(f).__name__) for f in b.facts])
    assert all(start <= f.t < end for f in a.facts)
    assert [f.t for f in a.facts] == sorted(f.t for f in a.facts)


def test_demo_is_deterministic_and_exercises_oneid(db_engine, settings, tmp_path):
    report = _build(db_engine, settings, "ingest")
    assert report.rejected == {}
    counts = report.counts
    assert counts["staff"] >= 20 and counts["channel_codes"] >= 9 and counts["groups"] >= 3
    assert counts["merged_customers"] > 0 and counts["merges"] == counts["merged_customers"]
    assert counts["orders"] > 300 and counts["events"] > 300
    with unit_of_work(db_engine) as s:
        categories = set(s.scalars(select(IdentityIssue.category)))
        assert {"junk", "conflict"} <= categories
        assert s.scalar(select(func.count()).select_from(Staff).where(Staff.status == "departed")) == 4
        assert s.scalar(select(func.count()).select_from(StaffTransfer)) == 4
        assert s.scalar(select(func.count()).select_from(Customer).where(Customer.source_platform.is_not(None))) > 0
    first = fingerprints(db_engine)
    other = _sqlite(tmp_path / "again.db")
    assert _build(other, settings, "ingest").counts == counts
    assert fingerprints(other) == first
    other.dispose()


def test_bulk_path_leaves_the_same_state_as_the_services(db_engine, settings, tmp_path):
    bulk = _build(db_engine, settings, "bulk")
    reference = _sqlite(tmp_path / "ref.db")
    assert _build(reference, settings, "ingest").counts == bulk.counts
    assert fingerprints(reference) == fingerprints(db_engine)
    reference.dispose()


def test_parallel_bulk_path_leaves_the_same_state(settings, tmp_path):
    reference = _sqlite(tmp_path / "ref.db")
    expected = _build(reference, settings, "ingest").counts
    want = fingerprints(reference)
    split = _sqlite(tmp_path / "split.db")
    report = _build(split, settings, "bulk", parallel=True)
    assert "waiting_for_work" in report.phases  # the history side ran in its own process
    assert report.counts == expected and fingerprints(split) == want
    assert "beside_indexes" in report.cpu  # the summaries were read and computed beside the index rebuild
    with split.connect() as conn:
        assert bulk_repository.foreign_key_violations(conn) == []
    assert _summaries(split) == _summaries(reference)  # … and equal those rebuilt after the services' load
    assert _index_definitions(split) == _index_definitions(reference)  # dropped for the load, rebuilt as migrated
    assert not list(tmp_path.glob("split.db.graph*"))  # the scratch graph is gone
    for engine in (reference, split):
        engine.dispose()


@pytest.mark.parametrize("share", [(0, 1), (1, 1), (1, 3), (2, 3)])
def test_blocks_prepared_by_either_process_give_the_same_rows(settings, tmp_path, monkeypatch, share):
    """The graph process simulating and preparing a share of the blocks (none, all, some) changes no row."""
    options = DemoOptions(customers=300, seed=7, until=UNTIL, mode="bulk", block=50, batch=1000)
    reference = _sqlite(tmp_path / "one.db")
    expected = build(reference, settings, replace(options, parallel=False))
    monkeypatch.setattr(scale, "GRAPH_SHARE", share)
    split = _sqlite(tmp_path / "split.db")
    report = build(split, settings, replace(options, parallel=True))
    assert ("graph_generate" in report.cpu) == (share[0] > 0)  # the graph process prepared blocks itself
    assert "history_indexes" in report.cpu  # the history tables' indexes were built by the history process
    assert report.facts == expected.facts and report.rejected == expected.rejected
    assert report.counts == expected.counts and fingerprints(split) == fingerprints(reference)
    for engine in (reference, split):
        engine.dispose()


def test_cli_builds_prints_secrets_and_refuses_a_full_database(tmp_path, monkeypatch):
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SIYU_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    args = ["demo", "--customers", "60", "--seed", "5", "--until", "2026-11-01", "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "console login:  admin / " in result.output and "admin API key:  sk_admin_" in result.output
    assert "merged customers" in result.output
    assert "engagement: 11 content items, 4 segments, 5 journeys (3 published" in result.output
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "database_not_empty" in refused.output
    assert runner.invoke(app, [*args, "--reset"]).exit_code == 0
    get_settings.cache_clear()
