"""Concurrent duplicate batches store each fact once; acknowledged batches survive a killed server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from domains.ingest.conftest import event
from siyu.db.engine import unit_of_work
from siyu.domains.customers import Customer
from siyu.domains.events import Event
from siyu.domains.identity import Identity
from siyu.domains.ingest import service as ingest


def _batch(start: int, n: int) -> list[dict]:
    # every third event links the openid to a phone shared by a pair of people-to-be-merged
    return [event(i, identities={"openid:wxmini": f"oMINI{i:06d}", **({"phone": f"139{i // 3:08d}"} if i % 3 == 0 else {})})
            for i in range(start, start + n)]


def _counts(engine) -> tuple[int, int, int]:
    with unit_of_work(engine) as s:
        return (s.scalar(select(func.count()).select_from(Event)),
                s.scalar(select(func.count()).select_from(Identity)),
                s.scalar(select(func.count()).select_from(Customer).where(Customer.merged_into_id.is_(None))))


def test_same_batch_sent_concurrently_is_stored_once(db_engine, settings):
    ctx = ingest.IngestContext.from_settings(settings)
    batch = _batch(0, 300)

    def send(_n: int):
        with unit_of_work(db_engine) as s:
            return ingest.ingest_events(s, ctx, batch)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(send, range(4)))
    assert sum(r.accepted for r in results) == 300
    assert sum(r.duplicates for r in results) == 900
    assert _counts(db_engine) == (300, 400, 300)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_acknowledged_batches_survive_kill_9(db_engine, keys, settings, tmp_path):
    port = _free_port()
    env = {**os.environ, "SIYU_DATABASE_URL": db_engine.url.render_as_string(hide_password=False),
           "SIYU_SECRET_KEY": settings.secret_key, "SIYU_DATA_DIR": str(tmp_path)}
    server = subprocess.Popen([str(Path(sys.executable).parent / "siyu"), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {keys['ingest']}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            batches = [_batch(n * 200, 200) for n in range(5)]
            with ThreadPoolExecutor(3) as pool:
                acked = list(pool.map(lambda b: http.post("/api/v1/events", json={"events": b}).json()["accepted"],
                                      batches + batches[:2]))
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
    assert sum(acked) == 1000
    assert _counts(db_engine)[0] == 1000
