"""`siyu serve` runs the engagement loops in-process on the embedded SQLite file (the demo), unless --no-worker.

A real server process on a temp SQLite file, a published journey with customers enrolled and due: with the
default the server's own scheduler runs the steps and its dispatcher delivers the journey's signed webhook
to a local HTTP server; with ``--no-worker`` nothing moves until a ``siyu worker`` runs.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from factories import make_customer
from sqlalchemy import Engine, func, select
from worker.processes import WebhookReceiver, free_port, secret_of, stop, wait_for, worker_env

from siyu.db.engine import make_engine, unit_of_work
from siyu.db.migrate import upgrade
from siyu.domains.journeys import service as journeys
from siyu.domains.journeys.models import Enrolment
from siyu.kit.crypto import PiiVault

SECRET = "serve-worker-secret-key-0123456789abcdef"


def _store(tmp_path: Path, hook_url: str) -> tuple[Engine, str]:
    url = f"sqlite:///{tmp_path / 'siyu.db'}"
    engine = make_engine(url)
    upgrade(engine)
    definition = {"trigger": {"type": "manual"}, "steps": [
        {"id": "mark", "type": "set_attribute", "attribute": "greeted", "value": "yes", "next": "hook"},
        {"id": "hook", "type": "webhook", "url": f"{hook_url}/crm", "body": {"event": "greeted"}}]}
    with unit_of_work(engine) as s:
        ids = [make_customer(s, PiiVault(SECRET)).id for _ in range(3)]
        journey = journeys.create_journey(s, name="问候", definition=definition, actor="test")
        journeys.publish(s, journey.id, actor="test")
        journeys.enrol_customers(s, journey.id, ids, actor="test")
    return engine, url


def _serve(env: dict[str, str], log: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    out = log.open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "siyu.cli.main", "serve", "--port", str(port), *args], env=env,
                            stdout=out, stderr=subprocess.STDOUT)
    out.close()
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, 60, "siyu serve to answer /healthz", [proc], log)
    return proc, base


def _done(engine: Engine) -> int:
    with unit_of_work(engine, write=False) as s:
        return int(s.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.status == "done")) or 0)


def test_serve_runs_journeys_and_the_dispatcher_on_sqlite_by_default(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    env = worker_env("", SECRET, tmp_path)
    with WebhookReceiver(secret_of(env)) as hooks:
        engine, url = _store(tmp_path, hooks.url)
        env["SIYU_DATABASE_URL"] = url
        proc, _base = _serve(env, log)
        try:
            wait_for(lambda: hooks.received() == 3 and _done(engine) == 3, 60,
                     "the server to run the journey and deliver its webhooks", [proc], log)
        finally:
            stop(proc)
        assert sorted(hooks.counts().values()) == [1, 1, 1] and hooks.bad_signatures == 0
        assert {b["data"]["event"] for b in hooks.bodies.values()} == {"greeted"}
    assert "running journeys, mass messages, service replies and the outbox dispatcher in the server" \
        in log.read_text()
    engine.dispose()


def test_serve_no_worker_leaves_the_journey_to_siyu_worker(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    env = worker_env("", SECRET, tmp_path)
    with WebhookReceiver(secret_of(env)) as hooks:
        engine, url = _store(tmp_path, hooks.url)
        env["SIYU_DATABASE_URL"] = url
        proc, _base = _serve(env, log, "--no-worker")
        try:
            time.sleep(4)  # four journey ticks' worth: a server running the loops would have finished by now
            assert _done(engine) == 0 and hooks.received() == 0
        finally:
            stop(proc)
        once = subprocess.run([sys.executable, "-m", "siyu.cli.main", "worker", "--once"], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert once.returncode == 0, once.stderr
        assert _done(engine) == 3 and sorted(hooks.counts().values()) == [1, 1, 1]
    assert "outbox dispatcher in the server" not in log.read_text()
    engine.dispose()
