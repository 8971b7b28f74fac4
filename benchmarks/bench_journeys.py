"""Measure the journey scheduler: step executions per second, and a large enrolment with its first step.

Reproduce (PostgreSQL from scripts/postgres.sh; the database is created and dropped by the script):
  .venv/bin/python benchmarks/bench_journeys.py --postgres-url "$(scripts/postgres.sh start)" --customers 100000

What it does, on a fresh database with ``--customers`` bare customers:
1. **Enrol**: a journey (send a marketing message, wait a day, create a staff task, add a tag) is
   published and every customer enrolled by hand in batches of 10,000 (re-entry check, holdout draw,
   one bulk insert each): customers enrolled per second.
2. **First steps**: the scheduler ticks at the enrolment time with ``--workers`` processes at once:
   each enrolment runs ``send_message`` and enters the wait. Step runs per second over the wall time.
3. **Second leg**: the clock moves a day on and the tick runs ``wait`` (completion), ``create_task``
   and ``add_tag`` for everyone: three steps per enrolment. Step runs per second.
Then it checks that every side effect happened exactly once (outbox messages, tasks, tag holds).
The load average is printed before and after: the machine is shared.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from siyu.config import Settings
from siyu.db.engine import make_engine, unit_of_work
from siyu.db.migrate import upgrade
from siyu.domains.customers import Customer
from siyu.domains.journeys import RecordOnlyCouponIssuer, service
from siyu.domains.journeys.engine import Context
from siyu.domains.journeys.models import StepRun
from siyu.domains.journeys.tasks import tick
from siyu.domains.outbox.models import OutboxMessage
from siyu.domains.tasks.models import StaffTask
from siyu.kit.crypto import PiiVault
from siyu.kit.time import UTC

SECRET = "bench-secret-key-0123456789abcdef0123456789"
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
JOURNEY = {"trigger": {"type": "manual"}, "steps": [
    {"id": "hello", "type": "send_message", "channel": "wecom", "content": {"text": "欢迎"}, "next": "day"},
    {"id": "day", "type": "wait", "duration": {"days": 1}, "next": "call"},
    {"id": "call", "type": "create_task", "title": "回访", "next": "tag"},
    {"id": "tag", "type": "add_tag", "tag": "已回访"}]}


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def _fresh_database(base: str) -> str:
    url = make_url(base)
    admin = make_engine(str(url.set(database="postgres")))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "bench_journeys" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "bench_journeys"'))
    admin.dispose()
    target = url.set(database="bench_journeys").render_as_string(hide_password=False)
    engine = make_engine(target)
    upgrade(engine)
    engine.dispose()
    return target


def _customers(url: str, n: int) -> list[int]:
    engine = make_engine(url)
    rows = [{"first_seen_at": T0, "created_at": T0, "updated_at": T0, "attributes": {}, "gender": "unknown"}
            for _ in range(n)]
    with unit_of_work(engine) as s:
        for i in range(0, n, 20_000):
            s.execute(insert(Customer.__table__), rows[i:i + 20_000])
    with unit_of_work(engine, write=False) as s:
        ids = list(s.scalars(select(Customer.id).order_by(Customer.id)))
    engine.dispose()
    return ids


def _context() -> Context:
    settings = Settings(data_dir=Path("/tmp"), secret_key=SECRET, env="test")
    return Context(tz=settings.tz, vault=PiiVault(SECRET), coupons=RecordOnlyCouponIssuer())


def _tick_worker(url: str, now: datetime, batch: int, out: multiprocessing.Queue) -> None:
    engine = make_engine(url)
    steps = 0
    while True:  # until nothing is due (tick stops after max_batches)
        done = tick(lambda: unit_of_work(engine), _context(), now, batch=batch, max_batches=50)
        steps += done.steps
        if done.steps == 0:
            break
    engine.dispose()
    out.put(steps)


def _run(url: str, now: datetime, workers: int, batch: int) -> tuple[int, float]:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_tick_worker, args=(url, now, batch, queue)) for _ in range(workers)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    steps = sum(queue.get() for _ in procs)
    for p in procs:
        p.join()
    return steps, time.perf_counter() - started


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", required=True)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    print(f"load average before: {_load()}; {os.cpu_count()} CPUs")
    url = _fresh_database(args.postgres_url)
    ids = _customers(url, args.customers)
    engine = make_engine(url)
    with unit_of_work(engine) as s:
        jid = service.create_journey(s, name="bench", definition=JOURNEY, actor="bench").id
        service.publish(s, jid, actor="bench", now=T0)
    started = time.perf_counter()
    for i in range(0, len(ids), 10_000):
        with unit_of_work(engine) as s:
            service.enrol_customers(s, jid, ids[i:i + 10_000], actor="bench", now=T0)
    enrol_s = time.perf_counter() - started
    print(f"enrolled {len(ids):,} customers in {enrol_s:.1f} s ({len(ids) / enrol_s:,.0f}/s)")
    steps, first_s = _run(url, T0, args.workers, args.batch)
    print(f"first steps: {steps:,} step runs in {first_s:.1f} s with {args.workers} workers "
          f"({steps / first_s:,.0f} steps/s); enrolment + first step {enrol_s + first_s:.1f} s")
    steps2, second_s = _run(url, T0 + timedelta(days=1, minutes=1), args.workers, args.batch)
    print(f"second leg: {steps2:,} step runs in {second_s:.1f} s ({steps2 / second_s:,.0f} steps/s)")
    with unit_of_work(engine, write=False) as s:
        counts = [s.scalar(select(func.count()).select_from(t)) for t in (OutboxMessage, StaffTask, StepRun)]
    print(f"outbox {counts[0]:,}, tasks {counts[1]:,}, step runs {counts[2]:,} (expected {len(ids):,}, "
          f"{len(ids):,}, {4 * len(ids):,})")
    engine.dispose()
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
