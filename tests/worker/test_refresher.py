"""The summaries' scheduled refresh: a lease so processes take turns, a refresher thread in `siyu serve`, `siyu worker`."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from factories import make_customer, make_identity, make_ownership, make_staff
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from siyu.analytics import lease
from siyu.analytics import refresh as summaries
from siyu.cli.main import app as cli
from siyu.config import Settings, get_settings
from siyu.db.engine import unit_of_work
from siyu.domains.access.service import create_api_key
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow
from siyu.web.app import create_app
from siyu.worker.refresher import LEASE, SummaryRefresher

TTL = timedelta(minutes=5)


def _take(engine: Engine, holder: str, now_offset: timedelta = timedelta()) -> bool:
    with unit_of_work(engine) as s:
        return lease.acquire(s, LEASE, holder, TTL, utcnow() + now_offset)


def _stale(engine: Engine) -> bool:
    with unit_of_work(engine, write=False) as s:
        return summaries.is_stale(s)


def _a_follow(engine: Engine, settings: Settings, userid: str = "alice") -> None:
    with unit_of_work(engine) as s:
        vault = PiiVault(settings.effective_secret_key)
        customer = make_customer(s, vault)
        make_ownership(s, make_identity(s, vault, customer.id, "external_userid", f"wm{customer.id}"),
                       make_staff(s, userid, userid))


def test_one_holder_at_a_time_until_released_or_expired(db_engine: Engine) -> None:
    assert _take(db_engine, "a")
    assert not _take(db_engine, "b")  # a holds it
    assert _take(db_engine, "a")  # a renews its own
    with unit_of_work(db_engine) as s:
        lease.release(s, LEASE, "b", utcnow())  # not b's to give back
    assert not _take(db_engine, "b")
    assert _take(db_engine, "b", TTL + timedelta(seconds=1))  # a died: its lease ran out
    with unit_of_work(db_engine) as s:
        lease.release(s, LEASE, "b", utcnow())
    assert _take(db_engine, "a")


def test_racing_holders_never_both_win(db_engine: Engine) -> None:
    wins: list[str] = []
    start = threading.Barrier(4)

    def race(name: str) -> None:
        start.wait()
        if _take(db_engine, name):
            wins.append(name)

    threads = [threading.Thread(target=race, args=(f"p{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_a_turn_refreshes_only_what_is_new_and_skips_while_another_holds_the_lease(db_engine: Engine,
                                                                                   settings: Settings) -> None:
    refresher = SummaryRefresher(db_engine, settings.tz, 60)
    assert refresher.run_once() is not None  # the first build of an empty store
    assert refresher.run_once() is None  # nothing new: no write transaction, no lease
    _a_follow(db_engine, settings)
    assert _take(db_engine, "another process")
    assert refresher.run_once() is None and _stale(db_engine)  # its turn is skipped, not queued
    with unit_of_work(db_engine) as s:
        lease.release(s, LEASE, "another process", utcnow())
    done = refresher.run_once()
    assert done is not None and done.customers == 1 and not _stale(db_engine)
    assert _take(db_engine, "another process")  # the refresher gave the lease back


def test_serve_refreshes_in_the_background(db_engine: Engine, settings: Settings) -> None:
    with unit_of_work(db_engine) as s:
        token = create_api_key(s, "ingest", ["ingest"])[1]
    scheduled = settings.model_copy(update={"summary_refresh_seconds": 1})
    with TestClient(create_app(scheduled, db_engine, schedule=True)) as client:
        answer = client.post("/api/v1/events", headers={"Authorization": f"Bearer {token}"}, json={"events": [
            {"event_id": "e1", "type": "contact_added", "occurred_at": "2026-03-01T10:00:00+08:00",
             "identities": {"external_userid": "wmBackground1"}, "properties": {"staff_userid": "alice"}}]})
        assert answer.json()["accepted"] == 1
        deadline = time.monotonic() + 60  # returns as soon as refreshed; generous for a loaded CI machine
        while _stale(db_engine) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _stale(db_engine)  # nobody opened the dashboard


def test_without_a_schedule_the_app_starts_no_refresher(db_engine: Engine, settings: Settings) -> None:
    _a_follow(db_engine, settings)
    with TestClient(create_app(settings.model_copy(update={"summary_refresh_seconds": 1}), db_engine)):
        time.sleep(1.5)
        assert _stale(db_engine)


def test_worker_command_refreshes_once(db_engine: Engine, settings: Settings, monkeypatch) -> None:
    _a_follow(db_engine, settings)
    monkeypatch.setenv("SIYU_DATABASE_URL", db_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("SIYU_SECRET_KEY", settings.effective_secret_key)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["worker", "--once"])
        again = CliRunner().invoke(cli, ["worker", "--once"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0 and "summaries refreshed" in result.output, result.output
    assert "nothing to refresh" in again.output and not _stale(db_engine)
